// RUN: nomac run --backend interp %s | filecheck %s
// RUN: nomac run --backend jit %s | filecheck %s

// Fused ops run in both backends: the interpreter runs the body op by op;
// the JIT runs the fused loop when the dims agree (the first op) and the
// body op by op when they do not (the second: [2, 3] with [2, 1]
// broadcasts), with the same results.

builtin.module attributes {noma.entry = "main"} {
  func.func @main() {
    %x = noma.tensor.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf64>
    %col = noma.tensor.constant dense<[[10.0], [20.0]]> : tensor<2x1xf64>
    %y = noma.tensor.cast %x : tensor<2x3xf64> -> tensor<?x?xf64>
    %c = noma.tensor.cast %col : tensor<2x1xf64> -> tensor<?x?xf64>
    %half = arith.constant 0.5 : f64
    %three = arith.constant 3.0 : f64
    %a = noma.tensor.fused ins(%y, %half, %three : tensor<?x?xf64>, f64, f64) -> (tensor<?x?xf64>) {
    ^bb0(%u: tensor<?x?xf64>, %h: f64, %t: f64):
      %p = noma.tensor.pow %u, %h : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
      %q = noma.tensor.pow %t, %u : (f64, tensor<?x?xf64>) -> tensor<?x?xf64>
      %r = noma.tensor.add %p, %q : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
      noma.tensor.yield %r : tensor<?x?xf64>
    }
    noma.io.print %a : tensor<?x?xf64>
    %b = noma.tensor.fused ins(%a, %c, %half : tensor<?x?xf64>, tensor<?x?xf64>, f64) -> (tensor<?x?xf64>) {
    ^bb0(%u: tensor<?x?xf64>, %v: tensor<?x?xf64>, %h: f64):
      %s = noma.tensor.mul %u, %h : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
      %d = noma.tensor.sub %s, %v : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
      %m = noma.tensor.max %d, %h : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
      noma.tensor.yield %m : tensor<?x?xf64>
    }
    noma.io.print %b : tensor<?x?xf64>
    func.return
  }
}

// CHECK:      {{^\[\[4, 10.41421356, 28.73205081\], \[83, 245.236068, 731.4494897\]\]$}}
// CHECK-NEXT: {{^\[\[0.5, 0.5, 4.366025404\], \[21.5, 102.618034, 345.7247449\]\]$}}
