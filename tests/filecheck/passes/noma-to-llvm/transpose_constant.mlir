// RUN: nomac %s -p noma-to-llvm | filecheck %s

// The transpose of a constant matrix (also seen through a cast) is a constant
// itself, made at compile time: no runtime call, e.g. for transpose(X) of a
// data matrix inside a training loop. Other transposes call the runtime.

builtin.module attributes {noma.entry = "main"} {
  func.func @main(%y: tensor<?x?xf64>) {
    %x = noma.tensor.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf64>
    %c = noma.tensor.cast %x : tensor<2x3xf64> -> tensor<?x?xf64>
    %t = noma.tensor.transpose %c : tensor<?x?xf64> -> tensor<?x?xf64>
    noma.io.print %t : tensor<?x?xf64>
    %u = noma.tensor.transpose %y : tensor<?x?xf64> -> tensor<?x?xf64>
    noma.io.print %u : tensor<?x?xf64>
    func.return
  }
}

// CHECK:      llvm.mlir.global internal constant @[[DATA:noma\.data\.[0-9]+]](dense<[1.000000e+00, 4.000000e+00, 2.000000e+00, 5.000000e+00, 3.000000e+00, 6.000000e+00]> : tensor<6xf64>)
// CHECK:      llvm.mlir.global internal constant @[[T:noma\.const\.[0-9]+]]()
// CHECK-NEXT:   llvm.mlir.zero
// CHECK-NEXT:   llvm.mlir.addressof @[[DATA]]
// CHECK:        llvm.mlir.constant(dense<[3, 2, 0, 0]> : tensor<4xi64>)
// CHECK:      llvm.func @noma_entry(
// CHECK:        %[[TA:.*]] = llvm.mlir.addressof @[[T]]
// CHECK:        llvm.call @noma_rt_print_tensor(%[[TA]])
// CHECK:        %u = llvm.call @noma_rt_transpose(%{{.*}}, %y, %{{.*}})
// CHECK-NEXT:   llvm.call @noma_rt_print_tensor(%u)
