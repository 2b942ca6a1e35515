// RUN: nomac %s -p noma-to-llvm | filecheck %s

// A noma.tensor.fused op becomes a call of a generated kernel: its inputs
// (a constant `pow` exponent is folded in instead), its output slot and the
// sites of its body's source locations. Both fused ops compute the same
// thing (only their locations differ), so they share one kernel.
// The kernel: a guard (every tensor has the reference's rank and dims); the
// fast path (output and scratch slots grown through noma_rt_zeros_like when
// too small, the output's shape set, then the loop function on the data
// pointers); and the fallback: the body op by op through the runtime,
// errors at the op's site, the result copied into the output slot.
// The loop function takes `noalias` data pointers. pow(scalar, tensor) runs
// in a loop of its own into a scratch array, by libm only for an exponent
// not among the last two distinct ones (carried with their results, the
// most recent first, with numpy's fast paths for an exponent 0, 1, -1, 0.5
// or 2 taken there by selects); the main loop (x ** 2 as x * x) reads it
// from there.
// The two exponents and results are kept from one call of the kernel to the
// next (in @noma.scratch.f64, with the base and a valid flag): a call with
// the same base, bit for bit, starts from them, any other from NaN.

builtin.module attributes {noma.entry = "main"} {
  func.func @main() {
    %x = noma.tensor.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf64>
    %y = noma.tensor.cast %x : tensor<2x2xf64> -> tensor<?x?xf64>
    %two = arith.constant 2.0 : f64
    %b1 = arith.constant 0.9 : f64
    %a = noma.tensor.fused ins(%y, %two, %b1 : tensor<?x?xf64>, f64, f64) -> (tensor<?x?xf64>) {
    ^bb0(%u: tensor<?x?xf64>, %e: f64, %c: f64):
      %p = noma.tensor.pow %u, %e : (tensor<?x?xf64>, f64) -> tensor<?x?xf64> loc("f.noma":3:5)
      %q = noma.tensor.pow %c, %p : (f64, tensor<?x?xf64>) -> tensor<?x?xf64> loc("f.noma":3:9)
      noma.tensor.yield %q : tensor<?x?xf64>
    }
    %b = noma.tensor.fused ins(%a, %two, %b1 : tensor<?x?xf64>, f64, f64) -> (tensor<?x?xf64>) {
    ^bb0(%u: tensor<?x?xf64>, %e: f64, %c: f64):
      %p = noma.tensor.pow %u, %e : (tensor<?x?xf64>, f64) -> tensor<?x?xf64> loc("f.noma":4:5)
      %q = noma.tensor.pow %c, %p : (f64, tensor<?x?xf64>) -> tensor<?x?xf64> loc("f.noma":4:9)
      noma.tensor.yield %q : tensor<?x?xf64>
    }
    noma.io.print %b : tensor<?x?xf64>
    func.return
  }
}

// CHECK:      llvm.func internal @[[K:noma\.fused\.[0-9]+]].loop(%[[N:.*]]: i64, %[[IN:.*]]: !llvm.ptr {llvm.noalias}, %[[OUT:.*]]: !llvm.ptr {llvm.noalias}, %[[TMP:.*]]: !llvm.ptr {llvm.noalias}, %[[C:.*]]: f64) {
// CHECK:        %[[CACHE:.*]] = llvm.mlir.addressof @noma.scratch.f64
// CHECK:        %[[BASE_AT:.*]] = llvm.getelementptr %[[CACHE]][{{[0-9]+}}] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   %[[VALID_AT:.*]] = llvm.getelementptr %[[CACHE]][{{[0-9]+}}] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK:        %[[OLD_BASE:.*]] = llvm.bitcast %{{.*}} : f64 to i64
// CHECK-NEXT:   %[[NEW_BASE:.*]] = llvm.bitcast %[[C]] : f64 to i64
// CHECK-NEXT:   %[[SAME_BASE:.*]] = llvm.icmp "eq" %[[OLD_BASE]], %[[NEW_BASE]] : i64
// CHECK-NEXT:   %[[WARM:.*]] = llvm.and %{{.*}}, %[[SAME_BASE]] : i1
// CHECK-NEXT:   %[[X1_AT:.*]] = llvm.getelementptr %[[CACHE]]
// CHECK-NEXT:   %[[X1_OLD:.*]] = llvm.load %[[X1_AT]]
// CHECK-NEXT:   %[[X1_0:.*]] = llvm.select %[[WARM]], %[[X1_OLD]], %{{.*}} : i1, f64
// CHECK:      ^{{bb[0-9]+}}(%[[I:.*]]: i64, %[[X1:.*]]: f64, %[[X2:.*]]: f64, %[[P1:.*]]: f64, %[[P2:.*]]: f64):
// CHECK-NEXT:   llvm.icmp "slt" %[[I]], %[[N]] : i64
// CHECK:        %[[X:.*]] = llvm.load %{{.*}} : !llvm.ptr -> f64
// CHECK-NEXT:   %[[SQ:.*]] = llvm.fmul %[[X]], %[[X]] : f64
// CHECK-NEXT:   %[[SAME1:.*]] = llvm.fcmp "oeq" %[[SQ]], %[[X1]] : f64
// CHECK-NEXT:   %[[SAME2:.*]] = llvm.fcmp "oeq" %[[SQ]], %[[X2]] : f64
// CHECK-NEXT:   %[[HIT:.*]] = llvm.or %[[SAME1]], %[[SAME2]] : i1
// CHECK-NEXT:   %[[NX2:.*]] = llvm.select %[[SAME1]], %[[X2]], %[[X1]] : i1, f64
// CHECK-NEXT:   llvm.cond_br %[[HIT]], ^[[REUSE:bb[0-9]+]], ^[[CALC:bb[0-9]+]]
// CHECK-NEXT: ^[[REUSE]]:
// CHECK-NEXT:   %[[OLD:.*]] = llvm.select %[[SAME1]], %[[P1]], %[[P2]] : i1, f64
// CHECK-NEXT:   llvm.br ^[[JOIN:bb[0-9]+]](%[[OLD]] : f64)
// CHECK-NEXT: ^[[CALC]]:
// CHECK-NEXT:   %[[POW:.*]] = llvm.call @pow(%[[C]], %[[SQ]]) : (f64, f64) -> f64
// CHECK-NEXT:   llvm.fcmp "oeq" %[[SQ]], %{{.*}} : f64
// CHECK-NEXT:   llvm.select %{{.*}}, %{{.*}}, %[[POW]] : i1, f64
// CHECK:        %[[CC:.*]] = llvm.fmul %[[C]], %[[C]] : f64
// CHECK-NEXT:   %[[FAST:.*]] = llvm.select %{{.*}}, %[[CC]], %{{.*}} : i1, f64
// CHECK-NEXT:   llvm.br ^[[JOIN]](%[[FAST]] : f64)
// CHECK-NEXT: ^[[JOIN]](%[[R:.*]]: f64):
// CHECK-NEXT:   %[[NP2:.*]] = llvm.select %[[SAME1]], %[[P2]], %[[P1]] : i1, f64
// CHECK-NEXT:   %[[AT:.*]] = llvm.getelementptr inbounds %[[TMP]][%[[I]]]
// CHECK-NEXT:   llvm.store %[[R]], %[[AT]] : f64, !llvm.ptr
// CHECK:        llvm.br ^{{bb[0-9]+}}(%{{.*}}, %[[SQ]], %[[NX2]], %[[R]], %[[NP2]] : i64, f64, f64, f64, f64)
// After the loop: the cache is saved.
// CHECK-NEXT: ^{{bb[0-9]+}}:
// CHECK-NEXT:   llvm.store %[[X1]], %[[X1_AT]] : f64, !llvm.ptr
// CHECK-NEXT:   llvm.store %[[X2]], %{{.*}} : f64, !llvm.ptr
// CHECK-NEXT:   llvm.store %[[P1]], %{{.*}} : f64, !llvm.ptr
// CHECK-NEXT:   llvm.store %[[P2]], %{{.*}} : f64, !llvm.ptr
// CHECK-NEXT:   llvm.store %[[C]], %[[BASE_AT]] : f64, !llvm.ptr
// CHECK-NEXT:   llvm.store %{{.*}}, %[[VALID_AT]] : f64, !llvm.ptr
// The main loop: no branch, no call.
// CHECK:      ^{{bb[0-9]+}}(%[[J:.*]]: i64):
// CHECK-NOT:    llvm.call
// CHECK:        %[[FROM:.*]] = llvm.getelementptr inbounds %[[TMP]][%[[J]]]
// CHECK-NEXT:   %[[V:.*]] = llvm.load %[[FROM]] : !llvm.ptr -> f64
// CHECK-NEXT:   %[[TO:.*]] = llvm.getelementptr inbounds %[[OUT]][%[[J]]]
// CHECK-NEXT:   llvm.store %[[V]], %[[TO]] : f64, !llvm.ptr
// CHECK:        llvm.return

// CHECK:      llvm.func internal @[[K]](%u: !llvm.ptr, %c: f64, %[[SLOT:.*]]: !llvm.ptr, %[[S1:.*]]: !llvm.ptr, %[[S2:.*]]: !llvm.ptr) {
// CHECK:        %[[RANK:.*]] = llvm.getelementptr %u[2] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:   %[[R:.*]] = llvm.load %[[RANK]] : !llvm.ptr -> i64
// CHECK-NEXT:   %[[OK:.*]] = llvm.icmp "eq" %[[R]], %{{.*}} : i64
// CHECK-NEXT:   llvm.cond_br %[[OK]], ^{{bb[0-9]+}}, ^[[SLOW:bb[0-9]+]]
// CHECK:        llvm.call @noma_rt_zeros_like(%[[SLOT]], %u)
// CHECK:        llvm.call @noma_rt_zeros_like(%[[SCRATCH:.*]], %u)
// CHECK:        llvm.call @[[K]].loop(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c)
// CHECK-NEXT:   llvm.return
// CHECK:      ^[[SLOW]]:
// CHECK:        llvm.call @noma_rt_binary(%{{.*}}, %{{.*}}, %u, %{{.*}}, %[[S1]])
// CHECK:        %[[Q:.*]] = llvm.call @noma_rt_binary(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[S2]])
// CHECK-NEXT:   llvm.call @noma_rt_buf_load(%[[SLOT]], %[[Q]], %{{.*}})
// CHECK-NEXT:   llvm.return

// CHECK:      llvm.func @noma_entry() {
// CHECK:        %a = llvm.getelementptr
// CHECK-NEXT:   llvm.call @[[K]](%x, %b1, %a, %{{.*}}, %{{.*}}) : (!llvm.ptr, f64, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:   %b = llvm.getelementptr
// CHECK-NEXT:   llvm.call @[[K]](%a, %b1, %b, %{{.*}}, %{{.*}}) : (!llvm.ptr, f64, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_print_tensor(%b)
