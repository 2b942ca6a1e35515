// RUN: nomac %s -p noma-autodiff | filecheck %s

// Which parameters are trained (SPEC §6.1): `v` appears only in a branch
// (taken or not, it is on the objective's data flow) and gets zeros from
// the other branch; `f` is behind floor (zero derivative) and gets
// zeros_like of its current value; `c` is read only in the if condition and
// `unused` not at all: neither is updated.

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %x = arith.constant 0.5 : f64
    %C = noma.train.param "c" %x : f64 -> !noma.mem.buffer<0>
    %Vb = noma.train.param "v" %x : f64 -> !noma.mem.buffer<0>
    %F = noma.train.param "f" %x : f64 -> !noma.mem.buffer<0>
    %U = noma.train.param "unused" %x : f64 -> !noma.mem.buffer<0>
    noma.train.optimize params(%C : !noma.mem.buffer<0>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %c = noma.mem.load %C : !noma.mem.buffer<0> -> f64
      %u = noma.mem.load %U : !noma.mem.buffer<0> -> f64
      %cond = arith.cmpf ogt, %c, %one : f64
      %r = scf.if %cond -> (f64) {
        %v = noma.mem.load %Vb : !noma.mem.buffer<0> -> f64
        %vv = noma.tensor.mul %v, %x : (f64, f64) -> f64
        scf.yield %vv : f64
      } else {
        scf.yield %x : f64
      }
      %f = noma.mem.load %F : !noma.mem.buffer<0> -> f64
      %ff = noma.tensor.floor %f : f64 -> f64
      %loss = noma.tensor.add %r, %ff : (f64, f64) -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %u, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      %[[GO:.*]] = arith.xori %stop
// CHECK-NEXT: scf.if %[[GO]] {
// CHECK-NEXT:   %[[SEED:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:   %[[AV:.*]] = scf.if %cond -> (f64) {
// CHECK-NEXT:     %[[G:.*]] = noma.tensor.mul %[[SEED]], %x : (f64, f64) -> f64
// CHECK-NEXT:     scf.yield %[[G]] : f64
// CHECK-NEXT:   } else {
// CHECK-NEXT:     %[[L:.*]] = noma.mem.load %Vb : !noma.mem.buffer<0> -> f64
// CHECK-NEXT:     %[[Z:.*]] = noma.tensor.zeros_like %[[L]] : f64 -> f64
// CHECK-NEXT:     scf.yield %[[Z]] : f64
// CHECK-NEXT:   }
// CHECK-NEXT:   noma.train.update %Vb, %[[AV]] : !noma.mem.buffer<0>, f64
// CHECK-NEXT:   %[[LF:.*]] = noma.mem.load %F : !noma.mem.buffer<0> -> f64
// CHECK-NEXT:   %[[ZF:.*]] = noma.tensor.zeros_like %[[LF]] : f64 -> f64
// CHECK-NEXT:   noma.train.update %F, %[[ZF]] : !noma.mem.buffer<0>, f64
// CHECK-NEXT: }
// CHECK-NOT:  noma.train.update
