// RUN: not nomac %s -p noma-autodiff 2>&1 | filecheck %s

// Storing a parameter-dependent value into a tensor (`scratch[0] = w * 2`)
// that the objective uses is not supported yet; the message names the
// variable (the frontend puts it in `noma.var`).

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %two = arith.constant 2.0 : f64
    %W = noma.train.param "w" %one : f64 -> !noma.mem.buffer<0>
    noma.train.optimize params(%W : !noma.mem.buffer<0>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %w = noma.mem.load %W : !noma.mem.buffer<0> -> f64
      %scratch = noma.tensor.zeros [%two] : tensor<?xf64>
      %v = noma.tensor.mul %w, %two : (f64, f64) -> f64
      %s1 = noma.tensor.insert %v into %scratch[%zero] {noma.var = "scratch"} : f64, tensor<?xf64> -> tensor<?xf64> loc("prog.noma":7:9)
      %loss = noma.tensor.sum %s1 : tensor<?xf64> -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK: error: storing a value that depends on a parameter into `scratch` inside an optimize body is not supported yet at prog.noma:7:9
