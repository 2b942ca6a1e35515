func.func @f(%a: f64, %b: f32) -> f64 {
  // expected-error @+1 {{this is not what the verifier says}}
  %0 = "arith.addf"(%a, %b) : (f64, f32) -> f64
  func.return %0 : f64
}
