// RUN: not nomac %s -p noma-inline 2>&1 | filecheck %s

// A function calling itself (even in a branch never taken) is rejected
// before anything is inlined.

builtin.module attributes {noma.entry = "main"} {
  func.func @f(%x: f64) -> f64 {
    %zero = arith.constant 0.0 : f64
    %c = arith.cmpf ogt, %x, %zero : f64
    %r = scf.if %c -> (f64) {
      %y = func.call @f(%x) : (f64) -> f64 loc("prog.noma":4:16)
      scf.yield %y : f64
    } else {
      scf.yield %x : f64
    }
    func.return %r : f64
  }
  func.func @main() -> f64 {
    %c = arith.constant 3.0 : f64
    %y = func.call @f(%c) : (f64) -> f64 loc("prog.noma":9:12)
    func.return %y : f64
  }
}

// CHECK: error: recursive call to f at prog.noma:4:16
