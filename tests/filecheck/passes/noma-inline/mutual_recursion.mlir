// RUN: not nomac %s -p noma-inline 2>&1 | filecheck %s

// even -> odd -> even: the call that closes the cycle is reported.

builtin.module attributes {noma.entry = "main"} {
  func.func @main() -> f64 {
    %c = arith.constant 3.0 : f64
    %y = func.call @even(%c) : (f64) -> f64 loc("prog.noma":2:12)
    func.return %y : f64
  }
  func.func @even(%x: f64) -> f64 {
    %y = func.call @odd(%x) : (f64) -> f64 loc("prog.noma":5:12)
    func.return %y : f64
  }
  func.func @odd(%x: f64) -> f64 {
    %y = func.call @even(%x) : (f64) -> f64 loc("prog.noma":8:12)
    func.return %y : f64
  }
}

// CHECK: error: recursive call to even at prog.noma:8:12
