// RUN: nomac %s -p noma-to-llvm | filecheck %s

// Parameters and their state are runtime buffers: param copies its initial
// value, state is a zero buffer of the parameter's current shape, a load
// copies the buffer into the load's own slot, unless its value is only read
// before anything may write the buffer (%w: the store reads it, the realloc
// comes after): then the slot is a view of the buffer (@noma.view: its
// descriptor with cap 0, after the liveness check). %w2 is read after the
// store_element: a copy. Dims and indices go through per-site arrays of
// doubles.

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
    %w2 = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
    %one = arith.constant 1.0 : f64
    noma.mem.store_element %s, %W[%one] : f64, !noma.mem.buffer<1>
    noma.mem.store %w2, %W_m : tensor<?xf64>, !noma.mem.buffer<1>
    %d = noma.mem.dim %W {axis = 0 : i64} : !noma.mem.buffer<1>
    noma.mem.free %W : !noma.mem.buffer<1>
    noma.train.check_objective %d, %one loc("prog.noma":2:5)
    noma.train.warn_max_iterations %d loc("prog.noma":2:5)
    noma.train.end_loop loc("prog.noma":2:5)
    func.return
  }
}

// CHECK:      llvm.mlir.global internal constant @[[STR_W:noma\.str\.[0-9]+]]("w\00")
// CHECK:      llvm.mlir.global internal constant @[[STR_M:noma\.str\.[0-9]+]]("m\00")
// CHECK:      llvm.mlir.global internal constant @[[STR_S:noma\.str\.[0-9]+]]("s\00")
// CHECK:      llvm.func internal @[[VIEW:noma\.view\.[0-9]+]](%[[SLOT:.*]]: !llvm.ptr, %[[BUF:.*]]: !llvm.ptr, %[[AT:.*]]: !llvm.ptr) {
// CHECK:        %[[RANKP:.*]] = llvm.getelementptr %[[BUF]][2] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:   %[[RANK:.*]] = llvm.load %[[RANKP]] : !llvm.ptr -> i64
// CHECK-NEXT:   %[[FREED:.*]] = llvm.icmp "slt" %[[RANK]], %{{.*}} : i64
// CHECK-NEXT:   llvm.cond_br %[[FREED]], ^[[ERR:bb[0-9]+]], ^[[OK:bb[0-9]+]]
// CHECK-NEXT: ^[[ERR]]:
// CHECK-NEXT:   llvm.call @noma_rt_buf_load(%[[SLOT]], %[[BUF]], %[[AT]])
// CHECK-NEXT:   llvm.return
// CHECK-NEXT: ^[[OK]]:
// CHECK-NEXT:   %[[DESC:.*]] = llvm.load %[[BUF]] : !llvm.ptr -> !llvm.struct<(!llvm.ptr, i64, i64, !llvm.array<4 x i64>, f64)>
// CHECK-NEXT:   %[[NOCAP:.*]] = llvm.insertvalue %{{.*}}, %[[DESC]][1]
// CHECK-NEXT:   llvm.store %[[NOCAP]], %[[SLOT]]
// CHECK-NEXT:   llvm.return
// CHECK:      llvm.mlir.global internal @noma.loops(0.000000e+00 : f64) {{.*}} : f64
// CHECK:      llvm.func @noma_entry() {
// The count of optimize loops started (for --loss-log) is reset when the entry starts.
// CHECK-NEXT:   %[[Z:.*]] = llvm.mlir.constant(0.000000e+00 : f64) : f64
// CHECK-NEXT:   %[[LOOPS0:.*]] = llvm.mlir.addressof @noma.loops : !llvm.ptr
// CHECK-NEXT:   llvm.store %[[Z]], %[[LOOPS0]] : f64, !llvm.ptr
// CHECK-DAG:    %init = llvm.mlir.addressof @{{noma\.const\.[0-9]+}}
// CHECK-DAG:    %[[NAME_W:.*]] = llvm.mlir.addressof @[[STR_W]] : !llvm.ptr
// CHECK-DAG:    %[[NAME_M:.*]] = llvm.mlir.addressof @[[STR_M]] : !llvm.ptr
// CHECK-DAG:    %[[NAME_S:.*]] = llvm.mlir.addressof @[[STR_S]] : !llvm.ptr
// CHECK-DAG:    %[[SLOTS:.*]] = llvm.mlir.addressof @noma.slots
// CHECK-DAG:    %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-DAG:    %[[ZERO:.*]] = llvm.mlir.constant(0.000000e+00 : f64) : f64
// CHECK-DAG:    %[[ONE_I:.*]] = llvm.mlir.constant(1) : i64
// CHECK-DAG:    %[[DIMS:.*]] = llvm.mlir.addressof @noma.scratch.f64
// CHECK-DAG:    %[[SITE:.*]] = llvm.mlir.addressof @{{noma\.site\.[0-9]+}}
// CHECK-DAG:    %[[LOOPS:.*]] = llvm.mlir.addressof @noma.loops : !llvm.ptr
// Buffers are named for messages ("use of freed variable 'w'"): a
// parameter by its name, its state "<param's name>.m".
// CHECK:        %[[W0:.*]] = llvm.call @noma_rt_buf_new(%init) : (!llvm.ptr) -> !llvm.ptr
// CHECK-NEXT:   %W = llvm.call @noma_rt_buf_name(%[[W0]], %[[NAME_W]], %[[NULL]]) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> !llvm.ptr
// CHECK-NEXT:   %[[S1:.*]] = llvm.getelementptr %[[SLOTS]][0]
// CHECK-NEXT:   %[[V:.*]] = llvm.call @noma_rt_buf_load(%[[S1]], %W, %[[NULL]])
// CHECK-NEXT:   %[[S2:.*]] = llvm.getelementptr %[[SLOTS]][1]
// CHECK-NEXT:   %[[Z:.*]] = llvm.call @noma_rt_zeros_like(%[[S2]], %[[V]])
// CHECK-NEXT:   %[[WM0:.*]] = llvm.call @noma_rt_buf_new(%[[Z]])
// CHECK-NEXT:   %W_m = llvm.call @noma_rt_buf_name(%[[WM0]], %[[NAME_M]], %W)
// CHECK-NEXT:   %[[S0:.*]] = llvm.call @noma_rt_buf_new_scalar(%s0) : (f64) -> !llvm.ptr
// CHECK-NEXT:   %S = llvm.call @noma_rt_buf_name(%[[S0]], %[[NAME_S]], %[[NULL]])
// CHECK-NEXT:   %[[SM0:.*]] = llvm.call @noma_rt_buf_new_scalar(%[[ZERO]])
// CHECK-NEXT:   %S_m = llvm.call @noma_rt_buf_name(%[[SM0]], %[[NAME_M]], %S)
// CHECK-NEXT:   %s = llvm.call @noma_rt_buf_load_scalar(%S, %[[NULL]]) : (!llvm.ptr, !llvm.ptr) -> f64
// CHECK-NEXT:   llvm.call @noma_rt_buf_store_scalar(%S_m, %s, %[[NULL]]) : (!llvm.ptr, f64, !llvm.ptr) -> ()
// CHECK-NEXT:   %w = llvm.getelementptr %[[SLOTS]][2]
// CHECK-NEXT:   llvm.call @[[VIEW]](%w, %W, %[[NULL]])
// CHECK-NEXT:   llvm.call @noma_rt_buf_store(%W_m, %w, %[[NULL]])
// CHECK-NEXT:   %[[D0:.*]] = llvm.getelementptr %[[DIMS]][0] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %four, %[[D0]]
// CHECK-NEXT:   llvm.call @noma_rt_buf_realloc(%W, %[[ONE_I]], %[[D0]], %[[ONE_I]], %s0, %s, %[[NULL]]) : (!llvm.ptr, i64, !llvm.ptr, i64, f64, f64, !llvm.ptr) -> ()
// CHECK-NEXT:   %[[S3:.*]] = llvm.getelementptr %[[SLOTS]][3]
// CHECK-NEXT:   %w2 = llvm.call @noma_rt_buf_load(%[[S3]], %W, %[[NULL]])
// CHECK-NEXT:   %[[S4:.*]] = llvm.getelementptr %[[SLOTS]][4]
// CHECK-NEXT:   %[[BOX:.*]] = llvm.call @noma_rt_box(%[[S4]], %s)
// CHECK-NEXT:   %[[I0:.*]] = llvm.getelementptr %[[DIMS]][1] : (!llvm.ptr) -> !llvm.ptr, f64
// CHECK-NEXT:   llvm.store %one, %[[I0]]
// CHECK-NEXT:   llvm.call @noma_rt_buf_store_element(%W, %[[BOX]], %[[ONE_I]], %[[I0]], %[[NULL]])
// CHECK-NEXT:   llvm.call @noma_rt_buf_store(%W_m, %w2, %[[NULL]])
// CHECK-NEXT:   %d = llvm.call @noma_rt_buf_dim(%W, %{{.*}}, %[[NULL]]) : (!llvm.ptr, i64, !llvm.ptr) -> f64
// CHECK-NEXT:   llvm.call @noma_rt_buf_free(%W, %[[NULL]])
// Iteration 1 starts a loop: count it; log (loop index, iteration - 1, loss,
// the loop's site: --loss-log and --progress), then check. end_loop ends the
// progress line.
// CHECK-NEXT:   %[[FIRST:.*]] = llvm.fcmp "oeq" %one, %one : f64
// CHECK-NEXT:   %[[BEFORE:.*]] = llvm.load %[[LOOPS]] : !llvm.ptr -> f64
// CHECK-NEXT:   %[[INC:.*]] = llvm.select %[[FIRST]], %{{.*}}, %{{.*}} : i1, f64
// CHECK-NEXT:   %[[COUNT:.*]] = llvm.fadd %[[BEFORE]], %[[INC]] : f64
// CHECK-NEXT:   llvm.store %[[COUNT]], %[[LOOPS]] : f64, !llvm.ptr
// CHECK-NEXT:   %[[LOOP:.*]] = llvm.fsub %[[COUNT]], %one : f64
// CHECK-NEXT:   %[[ITER:.*]] = llvm.fsub %one, %one : f64
// CHECK-NEXT:   llvm.call @noma_rt_loss_log(%[[LOOP]], %[[ITER]], %d, %[[SITE]]) : (f64, f64, f64, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_check_objective(%d, %one, %[[SITE]]) : (f64, f64, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_warn_max_iterations(%d, %[[SITE]]) : (f64, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_end_loop() : () -> ()
// CHECK-NEXT:   llvm.return
