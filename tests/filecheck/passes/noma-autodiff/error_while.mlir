// RUN: not nomac %s -p noma-autodiff 2>&1 | filecheck %s

// A while (or batch) loop whose result depends on a parameter, on the
// objective's path, cannot be differentiated (SPEC §6.2).

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %two = arith.constant 2.0 : f64
    %W = noma.train.param "w" %one : f64 -> !noma.mem.buffer<0>
    noma.train.optimize params(%W : !noma.mem.buffer<0>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %w = noma.mem.load %W : !noma.mem.buffer<0> -> f64
      %r = scf.while (%acc = %w) : (f64) -> (f64) {
        %c = arith.cmpf olt, %acc, %two : f64
        scf.condition(%c) %acc : f64
      } do {
      ^bb0(%a: f64):
        %d = noma.tensor.mul %a, %two : (f64, f64) -> f64
        scf.yield %d : f64
      } loc("prog.noma":5:9)
      %loss = noma.tensor.mul %r, %r : (f64, f64) -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK: error: cannot differentiate through a while loop at prog.noma:5:9
