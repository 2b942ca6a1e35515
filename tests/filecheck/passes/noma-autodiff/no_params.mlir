// RUN: nomac %s -p noma-autodiff | filecheck %s

// An objective that depends on no parameter trains nothing: the body is
// left as it is (the parameter named in `params` is only documentation).

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %W = noma.train.param "w" %one : f64 -> !noma.mem.buffer<0>
    noma.train.optimize params(%W : !noma.mem.buffer<0>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %loss = noma.tensor.mul %one, %one : (f64, f64) -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      noma.train.minimize %loss : f64
// CHECK-NEXT: %stop = arith.cmpf olt, %loss, %zero : f64
// CHECK-NEXT: noma.train.yield %stop
// CHECK-NOT:  noma.train.update
