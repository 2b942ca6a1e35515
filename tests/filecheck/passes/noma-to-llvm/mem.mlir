// RUN: nomac %s -p noma-to-llvm | filecheck %s

// Parameters and their state are runtime buffers: param copies its initial
// value, state is a zero buffer of the parameter's current shape, a load
// copies the buffer into the load's own slot; dims and indices go through
// per-site arrays of doubles.

builtin.module attributes {noma.entry = "main"} {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %W_m = noma.train.state %W "m" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
    %s0 = arith.constant 0.5 : f64
    %S = noma.train.param "s" %s0 : f64 -> !noma.mem.buffer<0>
    %S_m = noma.train.state %S "m" : !noma.mem.buffer<0> -> !noma.mem.buffer<0>
    %s = noma.mem.load %S : !noma.mem.buffer<0> -> f64
    noma.mem.store %s, %S_m : f64, !noma.mem.buffer<0>
    %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
    noma.mem.store %w, %W_m : tensor<?xf64>, !noma.mem.buffer<1>
    %four = arith.constant 4.0 : f64
    noma.mem.realloc %W to [%four] init "normal" (%s0, %s) : !noma.mem.buffer<1>
    %one = arith.constant 1.0 : f64
    noma.mem.store_element %s, %W[%one] : f64, !noma.mem.buffer<1>
    %d = noma.mem.dim %W {axis = 0 : i64} : !noma.mem.buffer<1>
    noma.mem.free %W : !noma.mem.buffer<1>
    noma.train.check_objective %d, %one loc("prog.noma":2:5)
    noma.train.warn_max_iterations %d loc("prog.noma":2:5)
    func.return
  }
}

// CHECK:      llvm.mlir.global internal @noma.loops(0.000000e+00 : f64) {{.*}} : f64
// CHECK:      llvm.func @noma_entry() {
// The count of optimize loops started (for --loss-log) is reset when the entry starts.
// CHECK-NEXT:   %[[Z:.*]] = llvm.mlir.constant(0.000000e+00 : f64) : f64
// CHECK-NEXT:   %[[LOOPS0:.*]] = llvm.mlir.addressof @noma.loops : !llvm.ptr
// CHECK-NEXT:   llvm.store %[[Z]], %[[LOOPS0]] : f64, !llvm.ptr
// CHECK-DAG:    %init = llvm.mlir.addressof @{{noma\.const\.[0-9]+}}
// CHECK-DAG:    %[[SLOTS:.*]] = llvm.mlir.addressof @noma.slots
// CHECK-DAG:    %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-DAG:    %[[ZERO:.*]] = llvm.mlir.constant(0.000000e+00 : f64) : f64
// CHECK-DAG:    %[[ONE_I:.*]] = llvm.mlir.constant(1) : i64
// CHECK-DAG:    %[[DIMS:.*]] = llvm.mlir.addressof @noma.scratch.f64
// CHECK-DAG:    %[[SITE:.*]] = llvm.mlir.addressof @{{noma\.site\.[0-9]+}}
// CHECK-DAG:    %[[LOOPS:.*]] = llvm.mlir.addressof @noma.loops : !llvm.ptr
// CHECK:        %W = llvm.call @noma_rt_buf_new(%init) : (!llvm.ptr) -> !llvm.ptr
// CHECK-NEXT:   %[[S1:.*]] = llvm.getelementptr %[[SLOTS]][0]
// CHECK-NEXT:   %[[V:.*]] = llvm.call @noma_rt_buf_load(%[[S1]], %W, %[[NULL]])
// CHECK-NEXT:   %[[S2:.*]] = llvm.getelementptr %[[SLOTS]][1]
// CHECK-NEXT:   %[[Z:.*]] = llvm.call @noma_rt_zeros_like(%[[S2]], %[[V]])
// CHECK-NEXT:   %W_m = llvm.call @noma_rt_buf_new(%[[Z]])
// CHECK-NEXT:   %S = llvm.call @noma_rt_buf_new_scalar(%s0) : (f64) -> !llvm.ptr
// CHECK-NEXT:   %S_m = llvm.call @noma_rt_buf_new_scalar(%[[ZERO]])
// CHECK-NEXT:   %s = llvm.call @noma_rt_buf_load_scalar(%S, %[[NULL]]) : (!llvm.ptr, !llvm.ptr) -> f64
// CHECK-NEXT:   llvm.call @noma_rt_buf_store_scalar(%S_m, %s, %[[NULL]]) : (!llvm.ptr, f64, !llvm.ptr) -> ()
// CHECK-NEXT:   %[[S3:.*]] = llvm.getelementptr %[[SLOTS]][2]
// CHECK-NEXT:   %w = llvm.call @noma_rt_buf_load(%[[S3]], %W, %[[NULL]])
// CHECK-NEXT:   llvm.call @noma_rt_buf_store(%W_m, %w, %[[NULL]])
// CHECK-NEXT:   %[[D0:.*]] = llvm.getelementptr %[[DIMS]][0] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %four, %[[D0]]
// CHECK-NEXT:   llvm.call @noma_rt_buf_realloc(%W, %[[ONE_I]], %[[D0]], %[[ONE_I]], %s0, %s, %[[NULL]]) : (!llvm.ptr, i64, !llvm.ptr, i64, f64, f64, !llvm.ptr) -> ()
// CHECK-NEXT:   %[[S4:.*]] = llvm.getelementptr %[[SLOTS]][3]
// CHECK-NEXT:   %[[BOX:.*]] = llvm.call @noma_rt_box(%[[S4]], %s)
// CHECK-NEXT:   %[[I0:.*]] = llvm.getelementptr %[[DIMS]][1] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %one, %[[I0]]
// CHECK-NEXT:   llvm.call @noma_rt_buf_store_element(%W, %[[BOX]], %[[ONE_I]], %[[I0]], %[[NULL]])
// CHECK-NEXT:   %d = llvm.call @noma_rt_buf_dim(%W, %{{.*}}, %[[NULL]]) : (!llvm.ptr, i64, !llvm.ptr) -> f64
// CHECK-NEXT:   llvm.call @noma_rt_buf_free(%W, %[[NULL]])
// Iteration 1 starts a loop: count it; log (loop index, iteration - 1, loss), then check.
// CHECK-NEXT:   %[[FIRST:.*]] = llvm.fcmp "oeq" %one, %one : f64
// CHECK-NEXT:   %[[BEFORE:.*]] = llvm.load %[[LOOPS]] : !llvm.ptr -> f64
// CHECK-NEXT:   %[[INC:.*]] = llvm.select %[[FIRST]], %{{.*}}, %{{.*}} : i1, f64
// CHECK-NEXT:   %[[COUNT:.*]] = llvm.fadd %[[BEFORE]], %[[INC]] : f64
// CHECK-NEXT:   llvm.store %[[COUNT]], %[[LOOPS]] : f64, !llvm.ptr
// CHECK-NEXT:   %[[LOOP:.*]] = llvm.fsub %[[COUNT]], %one : f64
// CHECK-NEXT:   %[[ITER:.*]] = llvm.fsub %one, %one : f64
// CHECK-NEXT:   llvm.call @noma_rt_loss_log(%[[LOOP]], %[[ITER]], %d) : (f64, f64, f64) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_check_objective(%d, %one, %[[SITE]]) : (f64, f64, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_warn_max_iterations(%d, %[[SITE]]) : (f64, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.return
