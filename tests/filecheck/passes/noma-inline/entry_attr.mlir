// RUN: nomac %s -p noma-inline | filecheck %s

// The entry comes from `noma.entry` (here not `main`); rank instantiations
// `@f` / `@"f.1"` are inlined like any function; `main` is not the entry and
// goes away with the others.

builtin.module attributes {noma.entry = "start"} {
  func.func @main() {
    func.return
  }
  func.func @f(%x: f64) -> f64 {
    %r = noma.tensor.neg %x : f64 -> f64
    func.return %r : f64
  }
  func.func @"f.1"(%x: tensor<?xf64>) -> tensor<?xf64> {
    %r = noma.tensor.neg %x : tensor<?xf64> -> tensor<?xf64>
    func.return %r : tensor<?xf64>
  }
  func.func @start() -> tensor<?xf64> {
    %c = arith.constant 1.0 : f64
    %s = func.call @f(%c) : (f64) -> f64
    %t = noma.tensor.constant dense<[1.0]> : tensor<1xf64>
    %d = noma.tensor.cast %t : tensor<1xf64> -> tensor<?xf64>
    %u = func.call @"f.1"(%d) : (tensor<?xf64>) -> tensor<?xf64>
    %v = noma.tensor.mul %u, %s : (tensor<?xf64>, f64) -> tensor<?xf64>
    func.return %v : tensor<?xf64>
  }
}

// CHECK:       builtin.module attributes {noma.entry = "start"} {
// CHECK-NEXT:    func.func @start() -> tensor<?xf64> {
// CHECK-NEXT:      %c = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:      %r = noma.tensor.neg %c : f64 -> f64
// CHECK-NEXT:      %t = noma.tensor.constant
// CHECK-NEXT:      %d = noma.tensor.cast %t
// CHECK-NEXT:      %r_1 = noma.tensor.neg %d : tensor<?xf64> -> tensor<?xf64>
// CHECK-NEXT:      %v = noma.tensor.mul %r_1, %r : (tensor<?xf64>, f64) -> tensor<?xf64>
// CHECK-NEXT:      func.return %v : tensor<?xf64>
// CHECK-NEXT:    }
// CHECK-NEXT:  }
