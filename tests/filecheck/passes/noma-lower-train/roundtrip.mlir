// RUN: nomac %s | filecheck %s
// RUN: nomac %s --print-op-generic | nomac | filecheck %s

// The two ops noma-lower-train introduces print and parse.

builtin.module {
  func.func @main() {
    %l = arith.constant 1.0 : f64
    %k = arith.constant 3.0 : f64
    noma.train.check_objective %l, %k
    noma.train.warn_max_iterations %k
    func.return
  }
}

// CHECK:      noma.train.check_objective %l, %k
// CHECK-NEXT: noma.train.warn_max_iterations %k
