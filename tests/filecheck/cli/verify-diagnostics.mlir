// RUN: nomac %s --split-input-file --verify-diagnostics | filecheck %s
// RUN: not nomac %s --split-input-file 2>&1 | filecheck %s --check-prefix=PLAIN
// RUN: not nomac %S/Inputs/wrong_expectations.mlir --verify-diagnostics 2>&1 | filecheck %s --check-prefix=WRONG

// An expected-error comment (MLIR's syntax) says the chunk must fail with
// that message on that line (`@+N`, `@-N`, `@above`, `@below` move the line);
// the run succeeds when every expected error, and nothing else, was produced.

func.func @ok(%a: f64) -> f64 {
  func.return %a : f64
}

// -----

func.func @verifier(%a: f64, %b: f32) -> f64 {
  // expected-error @+1 {{attribute f64 expected from variable 'T', but got f32}}
  %0 = "arith.addf"(%a, %b) : (f64, f32) -> f64
  func.return %0 : f64
}

// -----

func.func @two_errors(%a: tensor<2x3xf64>, %b: tensor<4x5xf64>, %c: f64, %d: f32) -> f64 {
  %0 = noma.tensor.matmul %a, %b : (tensor<2x3xf64>, tensor<4x5xf64>) -> tensor<?x?xf64> // expected-error {{inner dimensions differ (3 and 4)}}
  %1 = "arith.addf"(%c, %d) : (f64, f32) -> f64
  // expected-error @above {{but got f32}}
  func.return %1 : f64
}

// -----

// expected-error @below {{Expected argument or type}}
func.func @parse_error( {

// Only the chunk without errors is printed.
// CHECK:     func.func @ok
// CHECK-NOT: func.func

// PLAIN: error: 'arith.addf' op operand 'rhs' at position 1 does not verify: attribute f64 expected from variable 'T', but got f32 at {{.*}}verify-diagnostics.mlir:17:3
// PLAIN-NEXT: {{^}}    %0 = "arith.addf"(%a, %b) : (f64, f32) -> f64
// PLAIN-NEXT: {{^}}    ^
// PLAIN: error: noma.tensor.matmul: inner dimensions differ (3 and 4) at {{.*}}verify-diagnostics.mlir:24:3
// PLAIN: error: 'arith.addf' op {{.*}} but got f32 at {{.*}}verify-diagnostics.mlir:25:3
// PLAIN: error: Expected argument or type at {{.*}}verify-diagnostics.mlir:33:25

// WRONG: error: expected error "this is not what the verifier says" was not produced at {{.*}}wrong_expectations.mlir:2:3
// WRONG: error: unexpected error: 'arith.addf' op {{.*}} but got f32 at {{.*}}wrong_expectations.mlir:3:3
