// RUN: nomac %s -p noma-fuse-elementwise | filecheck %s

// A chain of element-wise ops on tensors of one rank (scalars broadcast)
// becomes one noma.tensor.fused op where its last member was. Its inputs are
// the values it uses from outside, in order of first use; its results are
// the member results used outside (%b by the matmul, %d by the return).
// Scalar-only math (%k) stays outside, as inline LLVM.

builtin.module {
  func.func @main(%x: tensor<?x?xf64>, %y: tensor<?x?xf64>, %s: f64) -> tensor<?x?xf64> {
    %two = arith.constant 2.0 : f64
    %a = noma.tensor.mul %x, %two : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
    %b = noma.tensor.add %a, %y : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %k = noma.tensor.mul %s, %two : (f64, f64) -> f64
    %c = noma.tensor.sqrt %b : tensor<?x?xf64> -> tensor<?x?xf64>
    %d = noma.tensor.sub %c, %k : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
    %m = noma.tensor.matmul %b, %d : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %e = noma.tensor.max %m, %d : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    func.return %e : tensor<?x?xf64>
  }
}

// CHECK:      %two = arith.constant 2.000000e+00 : f64
// CHECK-NEXT: %k = noma.tensor.mul %s, %two : (f64, f64) -> f64
// CHECK-NEXT: %b, %d = noma.tensor.fused ins(%x, %two, %y, %k : tensor<?x?xf64>, f64, tensor<?x?xf64>, f64) -> (tensor<?x?xf64>, tensor<?x?xf64>) {
// CHECK-NEXT: ^bb0(%x_1: tensor<?x?xf64>, %two_1: f64, %y_1: tensor<?x?xf64>, %k_1: f64):
// CHECK-NEXT:   %a = noma.tensor.mul %x_1, %two_1
// CHECK-NEXT:   %b_1 = noma.tensor.add %a, %y_1
// CHECK-NEXT:   %c = noma.tensor.sqrt %b_1
// CHECK-NEXT:   %d_1 = noma.tensor.sub %c, %k_1
// CHECK-NEXT:   noma.tensor.yield %b_1, %d_1 : tensor<?x?xf64>, tensor<?x?xf64>
// CHECK-NEXT: }
// CHECK-NEXT: %m = noma.tensor.matmul %b, %d
// The max after the matmul is a group of one: left alone.
// CHECK-NEXT: %e = noma.tensor.max %m, %d
// CHECK-NEXT: func.return %e
