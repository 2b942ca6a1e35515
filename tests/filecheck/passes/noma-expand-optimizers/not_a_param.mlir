// RUN: not nomac %s -p noma-expand-optimizers 2>&1 | filecheck %s

// An update needs a parameter (a buffer made by noma.train.param) to own the state.

builtin.module {
  func.func @main() {
    %two = arith.constant 2.0 : f64
    %A = noma.mem.alloc [%two] : !noma.mem.buffer<1>
    %kind = arith.constant 1.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params() hyper(%kind, %two, %two, %two, %two, %two, %two) {
      %a = noma.mem.load %A : !noma.mem.buffer<1> -> tensor<?xf64>
      %l = noma.tensor.sum %a : tensor<?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      noma.train.update %A, %a : !noma.mem.buffer<1>, tensor<?xf64> loc("prog.noma":7:5)
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK: error: noma-expand-optimizers: noma.train.update of a buffer that is not a learnable parameter (no noma.train.param defines it) at prog.noma:7:5
