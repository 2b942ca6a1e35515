// RUN: nomac %s -p noma-to-llvm | filecheck %s
// RUN: nomac %s -p noma-to-llvm | filecheck %s --check-prefix=GLOBAL

// Tensor ops call the runtime with their own slot (an element of the
// zero-initialised global array of noma_tensor) as `out`; a constant scalar
// operand is a constant rank-0 tensor;
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
// GLOBAL-DAG:  llvm.mlir.global internal constant @[[FILE:noma\.str\.[0-9]+]]("nowhere.noma\00") {{.*}} : !llvm.array<13 x i8>
// GLOBAL-DAG:  llvm.func @noma_rt_binary(i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> !llvm.ptr
// GLOBAL-DAG:  llvm.func @noma_rt_matmul(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> !llvm.ptr

// The constant's descriptor: zero, then its data, rank 2, dims [2, 2, 0, 0].
// CHECK:      @[[CONST:noma\.const\.[0-9]+]]()
// CHECK-NEXT:   llvm.mlir.zero
// CHECK-NEXT:   llvm.mlir.addressof @{{noma\.data\.[0-9]+}}
// CHECK-NEXT:   llvm.insertvalue {{.*}}[0]
// CHECK-NEXT:   llvm.mlir.constant(2) : i64
// CHECK-NEXT:   llvm.insertvalue {{.*}}[2]
// CHECK-NEXT:   llvm.mlir.constant(dense<[2, 2, 0, 0]> : tensor<4xi64>) : !llvm.array<4 x i64>
// CHECK-NEXT:   llvm.insertvalue {{.*}}[3]
// The scalar 2.0 as an operand of a tensor op is a constant rank-0 tensor.
// CHECK:      @[[TWO:noma\.const\.[0-9]+]]()
// CHECK-NEXT:   llvm.mlir.zero
// CHECK-NEXT:   llvm.mlir.addressof @{{noma\.data\.[0-9]+}}
// CHECK-NEXT:   llvm.insertvalue {{.*}}[0]
// CHECK-NEXT:   llvm.return
// The site of the op at nowhere.noma:3:14; the text of line 3 is unknown (NULL).
// CHECK:      llvm.mlir.global internal constant @[[FILE:noma\.str\.[0-9]+]]("nowhere.noma\00")
// CHECK:      @[[SITE:noma\.site\.[0-9]+]]()
// CHECK-NEXT:   llvm.mlir.zero
// CHECK-NEXT:   llvm.mlir.addressof @[[FILE]]
// CHECK-NEXT:   llvm.insertvalue {{.*}}[0]
// CHECK-NEXT:   llvm.mlir.constant(3) : i64
// CHECK-NEXT:   llvm.insertvalue {{.*}}[1]
// CHECK-NEXT:   llvm.mlir.constant(14) : i64
// CHECK-NEXT:   llvm.insertvalue {{.*}}[2]
// CHECK-NEXT:   llvm.return
// Slots: one zero-initialised array of noma_tensor for all op sites.
// CHECK:      llvm.mlir.global internal @noma.slots() {{.*}} : !llvm.array<4 x !llvm.struct<(!llvm.ptr, i64, i64, !llvm.array<4 x i64>, f64)>>

// CHECK:      llvm.func @noma_entry() {
// CHECK-DAG:    %x = llvm.mlir.addressof @[[CONST]] : !llvm.ptr
// CHECK-DAG:    %[[MUL:.*]] = llvm.mlir.constant(2) : i64
// CHECK-DAG:    %[[SLOTS:.*]] = llvm.mlir.addressof @noma.slots : !llvm.ptr
// CHECK-DAG:    %[[BOX:.*]] = llvm.mlir.addressof @[[TWO]] : !llvm.ptr
// CHECK-DAG:    %[[SITEP:.*]] = llvm.mlir.addressof @[[SITE]] : !llvm.ptr
// CHECK-DAG:    %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-DAG:    %[[IDX:.*]] = llvm.mlir.addressof @noma.scratch.f64 : !llvm.ptr
// CHECK:        %[[OUT:.*]] = llvm.getelementptr %[[SLOTS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(!llvm.ptr, i64, i64, !llvm.array<4 x i64>, f64)>
// CHECK-NEXT:   %y = llvm.call @noma_rt_binary(%[[MUL]], %[[OUT]], %x, %[[BOX]], %[[SITEP]])
// CHECK-NEXT:   %[[OUT2:.*]] = llvm.getelementptr %[[SLOTS]][1]
// CHECK-NEXT:   %e = llvm.call @noma_rt_unary(%{{.*}}, %[[OUT2]], %y)
// CHECK-NEXT:   %[[OUT3:.*]] = llvm.getelementptr %[[SLOTS]][2]
// CHECK-NEXT:   %z = llvm.call @noma_rt_matmul(%[[OUT3]], %e, %x, %[[NULL]])
// CHECK:        %[[I0:.*]] = llvm.getelementptr %[[IDX]][0] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %zero, %[[I0]]
// CHECK-NEXT:   %[[I1:.*]] = llvm.getelementptr %[[IDX]][1] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %one, %[[I1]]
// CHECK-NEXT:   %v = llvm.call @noma_rt_index_scalar(%z, %[[MUL]], %[[I0]], %[[NULL]]) : (!llvm.ptr, i64, !llvm.ptr, !llvm.ptr) -> f64
// CHECK-NEXT:   %s = llvm.call @noma_rt_reduce_all(%{{.*}}, %z) : (i64, !llvm.ptr) -> f64
// CHECK-NEXT:   %[[OUT4:.*]] = llvm.getelementptr %[[SLOTS]][3]
// CHECK-NEXT:   %r = llvm.call @noma_rt_reduce_axis(%{{.*}}, %[[OUT4]], %z,
// The cast only forgets static dims: no call. The entry prints its result.
// CHECK-NEXT:   llvm.call @noma_rt_print_tensor(%z) : (!llvm.ptr) -> ()
// CHECK-NEXT:   llvm.return
