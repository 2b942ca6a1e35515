// RUN: not nomac %s -p noma-shape-inference 2>&1 | filecheck %s

builtin.module {
  func.func @main() {
    %a = noma.tensor.constant dense<[[1.0, 2.0, 3.0]]> : tensor<1x3xf64>
    %x = noma.tensor.neg %a : tensor<1x3xf64> -> tensor<?x?xf64>
    %y = noma.tensor.matmul %x, %x : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64> loc("prog.noma":3:13)
    noma.io.print %y : tensor<?x?xf64>
    func.return
  }
}

// CHECK: error: matmul: inner dimensions differ ([1, 3] and [1, 3]) at prog.noma:3:13
