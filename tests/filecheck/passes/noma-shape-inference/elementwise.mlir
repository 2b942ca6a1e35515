// RUN: nomac %s -p noma-shape-inference | filecheck %s

// Static dims flow from constants through element-wise ops (with NumPy
// broadcasting), reductions, matmul, transpose and indexing.

builtin.module {
  func.func @main() {
    %a = noma.tensor.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf64>
    %r = noma.tensor.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf64>
    %s = arith.constant 2.0 : f64
    %x = noma.tensor.add %a, %r : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<?x?xf64>
    %y = noma.tensor.mul %x, %s : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
    %z = noma.tensor.sigmoid %y : tensor<?x?xf64> -> tensor<?x?xf64>
    %c = noma.tensor.cmp "lt", %z, %r : (tensor<?x?xf64>, tensor<3xf64>) -> tensor<?x?xf64>
    %t = noma.tensor.transpose %z : tensor<?x?xf64> -> tensor<?x?xf64>
    %m = noma.tensor.matmul %z, %t : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %s0 = noma.tensor.sum %m {axis = 0 : i64} : tensor<?x?xf64> -> tensor<?xf64>
    %s1 = noma.tensor.mean %t {axis = 1 : i64, keepdims} : tensor<?x?xf64> -> tensor<?x?xf64>
    %all = noma.tensor.sum %m : tensor<?x?xf64> -> f64
    %i = arith.constant 1.0 : f64
    %row = noma.tensor.index %m[%i] : tensor<?x?xf64> -> tensor<?xf64>
    %sm = noma.tensor.softmax %row : tensor<?xf64> -> tensor<?xf64>
    noma.io.print %c : tensor<?x?xf64>
    noma.io.print %s0 : tensor<?xf64>
    noma.io.print %s1 : tensor<?x?xf64>
    noma.io.print %all : f64
    noma.io.print %sm : tensor<?xf64>
    func.return
  }
}

// CHECK:      %x = noma.tensor.add %a, %r : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xf64>
// CHECK-NEXT: %y = noma.tensor.mul %x, %s : (tensor<2x3xf64>, f64) -> tensor<2x3xf64>
// CHECK-NEXT: %z = noma.tensor.sigmoid %y : tensor<2x3xf64> -> tensor<2x3xf64>
// CHECK-NEXT: %c = noma.tensor.cmp "lt", %z, %r : (tensor<2x3xf64>, tensor<3xf64>) -> tensor<2x3xf64>
// CHECK-NEXT: %t = noma.tensor.transpose %z : tensor<2x3xf64> -> tensor<3x2xf64>
// CHECK-NEXT: %m = noma.tensor.matmul %z, %t : (tensor<2x3xf64>, tensor<3x2xf64>) -> tensor<2x2xf64>
// CHECK-NEXT: %s0 = noma.tensor.sum %m {axis = 0 : i64} : tensor<2x2xf64> -> tensor<2xf64>
// CHECK-NEXT: %s1 = noma.tensor.mean %t {axis = 1 : i64, keepdims} : tensor<3x2xf64> -> tensor<3x1xf64>
// CHECK-NEXT: %all = noma.tensor.sum %m : tensor<2x2xf64> -> f64
// CHECK:      %row = noma.tensor.index %m[%i] : tensor<2x2xf64> -> tensor<2xf64>
// CHECK-NEXT: %sm = noma.tensor.softmax %row : tensor<2xf64> -> tensor<2xf64>
// CHECK-NOT:  noma.tensor.cast
