// RUN: nomac %s -p noma-fold-transpose | filecheck %s
// RUN: nomac %s -p noma-fold-transpose,noma-fold-transpose | filecheck %s

// A matmul operand defined by a transpose becomes the transpose's input with
// the matmul's transpose_lhs / transpose_rhs flag toggled; a transpose left
// without users goes, one still used elsewhere stays. A transpose of a
// transpose cancels. Running the pass twice gives the same IR.

builtin.module {
  func.func @main(%a: tensor<4x2xf64>, %b: tensor<4x3xf64>, %w: tensor<?x?xf64>, %g: tensor<?x?xf64>) -> (tensor<2x3xf64>, tensor<?x?xf64>, tensor<?x?xf64>, tensor<?x?xf64>) {
    %at = noma.tensor.transpose %a : tensor<4x2xf64> -> tensor<2x4xf64>
    %p = noma.tensor.matmul %at, %b : (tensor<2x4xf64>, tensor<4x3xf64>) -> tensor<2x3xf64>
    %wt = noma.tensor.transpose %w : tensor<?x?xf64> -> tensor<?x?xf64>
    %q = noma.tensor.matmul %g, %wt : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %gt = noma.tensor.transpose %g : tensor<?x?xf64> -> tensor<?x?xf64>
    %r = noma.tensor.matmul %gt, %gt : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %s = noma.tensor.matmul %wt, %g {transpose_lhs} : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    func.return %p, %q, %r, %wt : tensor<2x3xf64>, tensor<?x?xf64>, tensor<?x?xf64>, tensor<?x?xf64>
  }
}

// CHECK:      %p = noma.tensor.matmul %a, %b {transpose_lhs} : (tensor<4x2xf64>, tensor<4x3xf64>) -> tensor<2x3xf64>
// CHECK-NEXT: %wt = noma.tensor.transpose %w
// CHECK-NEXT: %q = noma.tensor.matmul %g, %w {transpose_rhs}
// CHECK-NEXT: %r = noma.tensor.matmul %g, %g {transpose_lhs, transpose_rhs}
// CHECK-NEXT: %s = noma.tensor.matmul %w, %g : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT: func.return %p, %q, %r, %wt
