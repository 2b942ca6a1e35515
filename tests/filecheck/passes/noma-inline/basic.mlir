// RUN: nomac %s -p noma-inline | filecheck %s

builtin.module attributes {noma.entry = "main"} {
  func.func @square(%x: f64) -> f64 {
    %r = noma.tensor.mul %x, %x : (f64, f64) -> f64
    func.return %r : f64
  }
  func.func @twice(%x: f64) -> f64 {
    %a = func.call @square(%x) : (f64) -> f64
    %b = noma.tensor.add %a, %a : (f64, f64) -> f64
    func.return %b : f64
  }
  func.func @main() -> f64 {
    %c = arith.constant 3.0 : f64
    %y = func.call @twice(%c) : (f64) -> f64
    %z = func.call @square(%y) : (f64) -> f64
    func.return %z : f64
  }
}

// CHECK:       builtin.module attributes {noma.entry = "main"} {
// CHECK-NEXT:    func.func @main() -> f64 {
// CHECK-NEXT:      %c = arith.constant 3.000000e+00 : f64
// CHECK-NEXT:      %r = noma.tensor.mul %c, %c : (f64, f64) -> f64
// CHECK-NEXT:      %b = noma.tensor.add %r, %r : (f64, f64) -> f64
// CHECK-NEXT:      %r_1 = noma.tensor.mul %b, %b : (f64, f64) -> f64
// CHECK-NEXT:      func.return %r_1 : f64
// CHECK-NEXT:    }
// CHECK-NEXT:  }
// CHECK-NOT:   func.func
// CHECK-NOT:   func.call
