// RUN: not nomac %s -p noma-autodiff 2>&1 | filecheck %s

// Calls must be inlined first.

builtin.module {
  func.func @sq(%x: f64) -> f64 {
    %y = noma.tensor.mul %x, %x : (f64, f64) -> f64
    func.return %y : f64
  }
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %W = noma.train.param "w" %one : f64 -> !noma.mem.buffer<0>
    noma.train.optimize params(%W : !noma.mem.buffer<0>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %w = noma.mem.load %W : !noma.mem.buffer<0> -> f64
      %loss = func.call @sq(%w) : (f64) -> f64 loc("prog.noma":3:16)
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK: error: call to @sq inside an optimize body: run noma-inline before noma-autodiff at prog.noma:3:16
