// RUN: nomac %s -p noma-autodiff | filecheck %s

// An `if` (with a nested `if`) on the objective's path. The forward ifs are
// rebuilt to also yield the branch values the adjoint reads (the other
// branch yields a placeholder); the adjoint is an `if` on the same condition
// whose branches yield the adjoints of outer values (%s, %w) and parameter
// contributions (%V), with zeros where a branch contributes nothing.

builtin.module {
  func.func @main() {
    %c0 = arith.constant 0.0 : f64
    %c1 = arith.constant 1.0 : f64
    %c2 = arith.constant 2.0 : f64
    %wi = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %wi : tensor<2xf64> -> !noma.mem.buffer<1>
    %vi = arith.constant 0.5 : f64
    %V = noma.train.param "v" %vi : f64 -> !noma.mem.buffer<0>
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%c1, %c1, %c0, %c0, %c0, %c0, %c1) {
      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %s = noma.tensor.sum %w : tensor<?xf64> -> f64
      %big = arith.cmpf ogt, %s, %c2 : f64
      %r = scf.if %big -> (f64) {
        %sq = noma.tensor.mul %w, %w : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
        %t = noma.tensor.sum %sq : tensor<?xf64> -> f64
        %inner = arith.cmpf ogt, %t, %c2 : f64
        %u = scf.if %inner -> (f64) {
          %e = noma.tensor.exp %t : f64 -> f64
          scf.yield %e : f64
        } else {
          scf.yield %s : f64
        }
        scf.yield %u : f64
      } else {
        %v = noma.mem.load %V : !noma.mem.buffer<0> -> f64
        %m = noma.tensor.mul %v, %s : (f64, f64) -> f64
        scf.yield %m : f64
      }
      noma.train.minimize %r : f64
      %stop = arith.cmpf olt, %r, %c0 : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// The forward if now also yields %sq, %t, %inner (then) and %v (else).
// CHECK:      %r, %[[SQ:.*]], %[[T:.*]], %[[INNER:.*]], %[[V:.*]] = scf.if %big -> (f64, tensor<?xf64>, f64, i1, f64) {
// CHECK:        %u = scf.if %inner -> (f64) {
// CHECK:        %[[P0:.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:   scf.yield %u, %sq, %t, %inner, %[[P0]] : f64, tensor<?xf64>, f64, i1, f64
// CHECK-NEXT: } else {
// CHECK-NEXT:   %v = noma.mem.load %V
// CHECK-NEXT:   %m = noma.tensor.mul %v, %s
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:   %[[PT:.*]] = noma.tensor.zeros[%[[ONE]]] : tensor<?xf64>
// CHECK-NEXT:   %[[PF:.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:   %[[PI:.*]] = arith.constant false
// CHECK-NEXT:   scf.yield %m, %[[PT]], %[[PF]], %[[PI]], %v : f64, tensor<?xf64>, f64, i1, f64
// CHECK-NEXT: }
// CHECK-NEXT: noma.train.minimize %r : f64

// The adjoint: same conditions, exported values instead of branch values.
// CHECK:      %[[SEED:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT: %[[AS:.*]], %[[AW:.*]], %[[AV:.*]] = scf.if %big -> (f64, tensor<?xf64>, f64) {
// CHECK-NEXT:   %[[IT:.*]], %[[IS:.*]] = scf.if %[[INNER]] -> (f64, f64) {
// CHECK-NEXT:     %[[DE:.*]] = noma.tensor.mul %[[SEED]], %r : (f64, f64) -> f64
// CHECK-NEXT:     %[[Z:.*]] = noma.tensor.zeros_like %s : f64 -> f64
// CHECK-NEXT:     scf.yield %[[DE]], %[[Z]] : f64, f64
// CHECK-NEXT:   } else {
// CHECK-NEXT:     %[[Z2:.*]] = noma.tensor.zeros_like %[[T]] : f64 -> f64
// CHECK-NEXT:     scf.yield %[[Z2]], %[[SEED]] : f64, f64
// CHECK-NEXT:   }
// CHECK-NEXT:   %[[GSQ:.*]] = noma.tensor.broadcast_like %[[IT]], %[[SQ]]
// CHECK:        noma.mem.load %V
// CHECK-NEXT:   %[[ZV:.*]] = noma.tensor.zeros_like
// CHECK-NEXT:   scf.yield %[[IS]], %{{.*}}, %[[ZV]] : f64, tensor<?xf64>, f64
// CHECK-NEXT: } else {
// CHECK-NEXT:   %[[GV:.*]] = noma.tensor.mul %[[SEED]], %s : (f64, f64) -> f64
// CHECK-NEXT:   %[[GS:.*]] = noma.tensor.mul %[[SEED]], %[[V]] : (f64, f64) -> f64
// CHECK-NEXT:   %[[ZW:.*]] = noma.tensor.zeros_like %w : tensor<?xf64> -> tensor<?xf64>
// CHECK-NEXT:   scf.yield %[[GS]], %[[ZW]], %[[GV]] : f64, tensor<?xf64>, f64
// CHECK-NEXT: }
// CHECK-NEXT: %[[GSUM:.*]] = noma.tensor.broadcast_like %[[AS]], %w
// CHECK-NEXT: %[[GW:.*]] = noma.tensor.add %[[AW]], %[[GSUM]]
// CHECK-NEXT: noma.train.update %W, %[[GW]] : !noma.mem.buffer<1>, tensor<?xf64>
// CHECK-NEXT: noma.train.update %V, %[[AV]] : !noma.mem.buffer<0>, f64
