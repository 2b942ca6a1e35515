// RUN: nomac %s -p noma-to-llvm | filecheck %s

// scf.while (which xDSL's convert-scf-to-cf leaves alone) becomes a header
// block and a back-edge. A tensor passed along the back-edge is copied into
// one of two carry slots of that block argument (the one it does not use
// now): the next iteration rewrites the slots of the ops in the body.
// Scalars are passed as they are.

builtin.module attributes {noma.entry = "main"} {
  func.func @main() {
    %c = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %x0 = noma.tensor.cast %c : tensor<2xf64> -> tensor<?xf64>
    %zero = arith.constant 0.0 : f64
    %ten = arith.constant 10.0 : f64
    %r:2 = scf.while (%x = %x0, %i = %zero) : (tensor<?xf64>, f64) -> (tensor<?xf64>, f64) {
      %more = arith.cmpf olt, %i, %ten : f64
      scf.condition(%more) %x, %i : tensor<?xf64>, f64
    } do {
    ^bb0(%y: tensor<?xf64>, %j: f64):
      %y1 = noma.tensor.add %y, %y : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
      %one = arith.constant 1.0 : f64
      %j1 = arith.addf %j, %one : f64
      scf.yield %y1, %j1 : tensor<?xf64>, f64
    }
    noma.io.print %r#0 : tensor<?xf64>
    func.return
  }
}

// CHECK:      llvm.mlir.global internal @noma.slots() {{.*}} : !llvm.array<3 x !llvm.struct<(!llvm.ptr, i64, i64, !llvm.array<4 x i64>, f64)>> {
// CHECK-NEXT:   llvm.mlir.zero
// CHECK:      llvm.func @noma_entry() {
// CHECK:        %[[SLOTS:.*]] = llvm.mlir.addressof @noma.slots : !llvm.ptr
// CHECK:        llvm.br ^[[HEAD:.*]](%c, %zero : !llvm.ptr, f64)
// CHECK-NEXT: ^[[HEAD]](%x: !llvm.ptr, %i: f64):
// CHECK-NEXT:   %more = llvm.fcmp "olt" %i, %ten : f64
// CHECK-NEXT:   llvm.cond_br %more, ^[[BODY:.*]](%x, %i : !llvm.ptr, f64), ^[[EXIT:.*]]
// CHECK-NEXT: ^[[BODY]](%y: !llvm.ptr, %j: f64):
// CHECK-NEXT:   %[[OUT:.*]] = llvm.getelementptr %[[SLOTS]][0]
// CHECK-NEXT:   %y1 = llvm.call @noma_rt_binary(%{{.*}}, %[[OUT]], %y, %y, %{{.*}})
// CHECK-NEXT:   %j1 = llvm.fadd %j, %one : f64
// CHECK-NEXT:   %[[A:.*]] = llvm.getelementptr %[[SLOTS]][1]
// CHECK-NEXT:   %[[B:.*]] = llvm.getelementptr %[[SLOTS]][2]
// CHECK-NEXT:   %[[CUR:.*]] = llvm.ptrtoint %x : !llvm.ptr to i64
// CHECK-NEXT:   %[[AI:.*]] = llvm.ptrtoint %[[A]] : !llvm.ptr to i64
// CHECK-NEXT:   %[[IN_A:.*]] = llvm.icmp "eq" %[[CUR]], %[[AI]] : i64
// CHECK-NEXT:   %[[TARGET:.*]] = llvm.select %[[IN_A]], %[[B]], %[[A]] : i1, !llvm.ptr
// CHECK-NEXT:   %[[COPY:.*]] = llvm.call @noma_rt_buf_load(%[[TARGET]], %y1, %{{.*}})
// CHECK-NEXT:   llvm.br ^[[HEAD]](%[[COPY]], %j1 : !llvm.ptr, f64)
// CHECK-NEXT: ^[[EXIT]]:
// CHECK-NEXT:   llvm.call @noma_rt_print_tensor(%x) : (!llvm.ptr) -> ()
