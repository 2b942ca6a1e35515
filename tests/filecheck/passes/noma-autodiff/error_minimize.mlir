// RUN: not nomac %s -p noma-autodiff 2>&1 | filecheck %s

// The body needs exactly one top-level `minimize`.

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %W = noma.train.param "w" %one : f64 -> !noma.mem.buffer<0>
    noma.train.optimize params(%W : !noma.mem.buffer<0>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %w = noma.mem.load %W : !noma.mem.buffer<0> -> f64
      noma.train.minimize %w : f64
      noma.train.minimize %w : f64
      %stop = arith.cmpf olt, %w, %zero : f64
      noma.train.yield %stop
    } loc("prog.noma":2:5)
    func.return
  }
}

// CHECK: error: optimize body needs exactly one `minimize` at prog.noma:2:5
