// RUN: nomac %s --split-input-file -p noma-fuse-elementwise | filecheck %s

// Members only move down to the group's last member, never past a use of
// their results: the sum uses %a, so {%a} ends there (one op: not fused),
// and {%b, %c} is fused after it.

builtin.module {
  func.func @use_ends_a_group(%x: tensor<?x?xf64>) -> f64 {
    %one = arith.constant 1.0 : f64
    %a = noma.tensor.mul %x, %one : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
    %s = noma.tensor.sum %a : tensor<?x?xf64> -> f64
    %b = noma.tensor.add %a, %s : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
    %c = noma.tensor.abs %b : tensor<?x?xf64> -> tensor<?x?xf64>
    %r = noma.tensor.sum %c : tensor<?x?xf64> -> f64
    func.return %r : f64
  }
}

// CHECK-LABEL: func.func @use_ends_a_group
// CHECK-NEXT:    %one = arith.constant
// CHECK-NEXT:    %a = noma.tensor.mul %x, %one
// CHECK-NEXT:    %s = noma.tensor.sum %a
// CHECK-NEXT:    %c = noma.tensor.fused ins(%a, %s :
// CHECK:         %r = noma.tensor.sum %c

// -----

// Ops that can fail keep their order. %d (two tensors: a run-time shape
// check) cannot move past the matmul, which can fail too: {%d} ends there.
// %c cannot fail, so {%c, %f} moves past the matmul.

builtin.module {
  func.func @order_of_errors(%x: tensor<?x?xf64>, %y: tensor<?x?xf64>) -> tensor<?x?xf64> {
    %two = arith.constant 2.0 : f64
    %c = noma.tensor.mul %x, %two : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
    %d = noma.tensor.add %y, %y : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %e = noma.tensor.matmul %x, %x : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %f = noma.tensor.sub %c, %e : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %g = noma.tensor.mul %f, %d : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    func.return %g : tensor<?x?xf64>
  }
}

// CHECK-LABEL: func.func @order_of_errors
// CHECK:         %d = noma.tensor.add %y, %y
// CHECK-NEXT:    %e = noma.tensor.matmul %x, %x
// CHECK-NEXT:    %g = noma.tensor.fused ins(%x, %two, %e, %d :
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      %c = noma.tensor.mul
// CHECK-NEXT:      %f = noma.tensor.sub
// CHECK-NEXT:      %g_1 = noma.tensor.mul

// -----

// Not members: ops mixing ranks (NumPy broadcasting of a [m] bias over an
// [n, m] matrix), ops whose static dims differ (they would always broadcast),
// ops with a scalar result, and exp/sigmoid/tanh, which the runtime computes
// with its own vector math. Two members around them are not connected.

builtin.module {
  func.func @not_members(%x: tensor<?x?xf64>, %v: tensor<?xf64>, %p: tensor<4x1xf64>, %q: tensor<4x16xf64>) -> f64 {
    %a = noma.tensor.add %x, %v : (tensor<?x?xf64>, tensor<?xf64>) -> tensor<?x?xf64>
    %b = noma.tensor.mul %p, %q : (tensor<4x1xf64>, tensor<4x16xf64>) -> tensor<4x16xf64>
    %c = noma.tensor.sigmoid %a : tensor<?x?xf64> -> tensor<?x?xf64>
    %s = noma.tensor.reduce_like %c, %x : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    %one = arith.constant 1.0 : f64
    %t = noma.tensor.reduce_like %b, %one : (tensor<4x16xf64>, f64) -> f64
    %r = noma.tensor.add %t, %one : (f64, f64) -> f64
    func.return %r : f64
  }
}

// CHECK-LABEL: func.func @not_members
// CHECK-NOT:     noma.tensor.fused
// CHECK:         func.return

// -----

// Loads and stores of a parameter's buffers and its optimizer state (one
// family: same dims) join one group in program order; the second
// parameter's update is a group of its own (placed before its first load).

builtin.module {
  func.func @two_updates(%g: tensor<?x?xf64>, %h: tensor<?x?xf64>) {
    %init = noma.tensor.constant dense<[[1.0, 2.0]]> : tensor<1x2xf64>
    %W = noma.train.param "W" %init : tensor<1x2xf64> -> !noma.mem.buffer<2>
    %W_m = noma.train.state %W "m" : !noma.mem.buffer<2> -> !noma.mem.buffer<2>
    %V = noma.train.param "V" %init : tensor<1x2xf64> -> !noma.mem.buffer<2>
    %lr = arith.constant 0.1 : f64
    %m = noma.mem.load %W_m : !noma.mem.buffer<2> -> tensor<?x?xf64>
    %m2 = noma.tensor.add %m, %g : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    noma.mem.store %m2, %W_m : tensor<?x?xf64>, !noma.mem.buffer<2>
    %w = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
    %step = noma.tensor.mul %lr, %m2 : (f64, tensor<?x?xf64>) -> tensor<?x?xf64>
    %w2 = noma.tensor.sub %w, %step : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    noma.mem.store %w2, %W : tensor<?x?xf64>, !noma.mem.buffer<2>
    %v = noma.mem.load %V : !noma.mem.buffer<2> -> tensor<?x?xf64>
    %v2 = noma.tensor.sub %v, %h : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    noma.mem.store %v2, %V : tensor<?x?xf64>, !noma.mem.buffer<2>
    func.return
  }
}

// CHECK-LABEL: func.func @two_updates
// CHECK:         noma.tensor.fused ins(%W_m, %g, %W, %lr : !noma.mem.buffer<2>, tensor<?x?xf64>, !noma.mem.buffer<2>, f64) {
// CHECK-NEXT:    ^bb0(%W_m_1: !noma.mem.buffer<2>, %g_1: tensor<?x?xf64>, %W_1: !noma.mem.buffer<2>, %lr_1: f64):
// CHECK-NEXT:      %m = noma.mem.load %W_m_1
// CHECK-NEXT:      %m2 = noma.tensor.add %m, %g_1
// CHECK-NEXT:      noma.mem.store %m2, %W_m_1
// CHECK-NEXT:      %w = noma.mem.load %W_1
// CHECK-NEXT:      %step = noma.tensor.mul %lr_1, %m2
// CHECK-NEXT:      %w2 = noma.tensor.sub %w, %step
// CHECK-NEXT:      noma.mem.store %w2, %W_1
// CHECK-NEXT:      noma.tensor.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    noma.tensor.fused ins(%V, %h :
// CHECK:           %v = noma.mem.load
// CHECK:         func.return
