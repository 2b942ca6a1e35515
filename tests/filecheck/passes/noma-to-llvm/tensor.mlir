// RUN: nomac %s -p noma-to-llvm | filecheck %s
// RUN: nomac %s -p noma-to-llvm | filecheck %s --check-prefix=GLOBAL

// Tensor ops call the runtime with their own slot (a zero-initialised global
// noma_tensor) as `out`; a scalar operand is boxed into a slot of its own;
// constants are constant globals (data array + descriptor with cap 0);
// index lists go through a per-site array of doubles; ops that can fail pass
// their noma_site, which embeds the source line (NULL text when unknown).

builtin.module attributes {noma.entry = "main"} {
  func.func @main() -> tensor<?x?xf64> {
    %x = noma.tensor.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf64>
    %two = arith.constant 2.0 : f64
    %y = noma.tensor.mul %x, %two : (tensor<2x2xf64>, f64) -> tensor<2x2xf64> loc("nowhere.noma":3:14)
    %e = noma.tensor.exp %y : tensor<2x2xf64> -> tensor<2x2xf64>
    %z = noma.tensor.matmul %e, %x : (tensor<2x2xf64>, tensor<2x2xf64>) -> tensor<2x2xf64>
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %v = noma.tensor.index %z[%zero, %one] : tensor<2x2xf64> -> f64
    %s = noma.tensor.sum %z : tensor<2x2xf64> -> f64
    %r = noma.tensor.sum %z {axis = 0 : i64} : tensor<2x2xf64> -> tensor<2xf64>
    %c = noma.tensor.cast %z : tensor<2x2xf64> -> tensor<?x?xf64>
    func.return %c : tensor<?x?xf64>
  }
}

// GLOBAL-DAG:  llvm.mlir.global internal constant @[[DATA:.*]](dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf64>) {{.*}} : !llvm.array<4 x f64>
// GLOBAL-DAG:  llvm.mlir.global internal constant @[[CONST:noma\.const\.[0-9]+]]() {{.*}} : !llvm.struct<(!llvm.ptr, i64, i64, !llvm.array<4 x i64>, f64)> {
// GLOBAL-DAG:  llvm.mlir.global internal @[[SLOT:noma\.slot\.[0-9]+]]() {{.*}} : !llvm.struct<(!llvm.ptr, i64, i64, !llvm.array<4 x i64>, f64)> {
// GLOBAL-DAG:  llvm.mlir.global internal constant @[[FILE:noma\.str\.[0-9]+]]("nowhere.noma\00") {{.*}} : !llvm.array<13 x i8>
// GLOBAL-DAG:  llvm.func @noma_rt_binary(i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> !llvm.ptr
// GLOBAL-DAG:  llvm.func @noma_rt_matmul(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> !llvm.ptr

// The constant's descriptor: its data, cap 0, rank 2, dims [2, 2, 0, 0].
// CHECK:      @[[CONST:noma\.const\.[0-9]+]]()
// CHECK-NEXT:   llvm.mlir.undef
// CHECK-NEXT:   llvm.mlir.addressof @{{noma\.data\.[0-9]+}}
// CHECK-NEXT:   llvm.insertvalue {{.*}}[0]
// CHECK-NEXT:   llvm.mlir.constant(0) : i64
// CHECK-NEXT:   llvm.insertvalue {{.*}}[1]
// CHECK-NEXT:   llvm.mlir.constant(2) : i64
// CHECK-NEXT:   llvm.insertvalue {{.*}}[2]
// CHECK-NEXT:   llvm.mlir.constant(2) : i64
// CHECK-NEXT:   llvm.insertvalue {{.*}}[3, 0]

// CHECK:      llvm.func @noma_entry() {
// CHECK-NEXT:   %x = llvm.mlir.addressof @[[CONST]] : !llvm.ptr
// CHECK:        %[[MUL:.*]] = llvm.mlir.constant(2) : i64
// CHECK-NEXT:   %[[OUT:.*]] = llvm.mlir.addressof @{{noma\.slot\.[0-9]+}} : !llvm.ptr
// CHECK-NEXT:   %[[BOXSLOT:.*]] = llvm.mlir.addressof @{{noma\.slot\.[0-9]+}} : !llvm.ptr
// CHECK-NEXT:   %[[BOX:.*]] = llvm.call @noma_rt_box(%[[BOXSLOT]], %two) : (!llvm.ptr, f64) -> !llvm.ptr
// CHECK-NEXT:   %[[SITE:.*]] = llvm.mlir.addressof @{{noma\.site\.[0-9]+}} : !llvm.ptr
// CHECK-NEXT:   %y = llvm.call @noma_rt_binary(%[[MUL]], %[[OUT]], %x, %[[BOX]], %[[SITE]])
// CHECK:        %e = llvm.call @noma_rt_unary(%{{.*}}, %{{.*}}, %y)
// CHECK:        %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-NEXT:   %z = llvm.call @noma_rt_matmul(%{{.*}}, %e, %x, %[[NULL]])
// CHECK:        %[[IDX:.*]] = llvm.mlir.addressof @{{noma\.scratch\.[0-9]+}} : !llvm.ptr
// CHECK-NEXT:   %[[I0:.*]] = llvm.getelementptr %[[IDX]][0] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %zero, %[[I0]]
// CHECK-NEXT:   %[[I1:.*]] = llvm.getelementptr %[[IDX]][1] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %one, %[[I1]]
// CHECK:        %v = llvm.call @noma_rt_index_scalar(%z, %{{.*}}, %[[IDX]], %{{.*}}) : (!llvm.ptr, i64, !llvm.ptr, !llvm.ptr) -> f64
// CHECK:        %s = llvm.call @noma_rt_reduce_all(%{{.*}}, %z) : (i64, !llvm.ptr) -> f64
// CHECK:        %r = llvm.call @noma_rt_reduce_axis(
// The cast only forgets static dims: no call. The entry prints its result.
// CHECK-NEXT:   llvm.call @noma_rt_print_tensor(%z) : (!llvm.ptr) -> ()
// CHECK-NEXT:   llvm.return
