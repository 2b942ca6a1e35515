// RUN: nomac %s --split-input-file --verify-diagnostics | filecheck %s

// The verifier of noma.tensor.fused: only element-wise ops and loads/stores
// in the body, tensors of one known rank, results matching the yield.

func.func @ok(%x: tensor<?x?xf64>, %s: f64) -> tensor<?x?xf64> {
  %r = noma.tensor.fused ins(%x, %s : tensor<?x?xf64>, f64) -> (tensor<?x?xf64>) {
  ^bb0(%a: tensor<?x?xf64>, %b: f64):
    %c = noma.tensor.mul %a, %b : (tensor<?x?xf64>, f64) -> tensor<?x?xf64>
    noma.tensor.yield %c : tensor<?x?xf64>
  }
  func.return %r : tensor<?x?xf64>
}

// -----

func.func @not_elementwise(%x: tensor<?x?xf64>) -> tensor<?x?xf64> {
  // expected-error @+1 {{noma.tensor.fused: noma.tensor.matmul cannot be fused}}
  %r = noma.tensor.fused ins(%x : tensor<?x?xf64>) -> (tensor<?x?xf64>) {
  ^bb0(%a: tensor<?x?xf64>):
    %c = noma.tensor.matmul %a, %a : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    noma.tensor.yield %c : tensor<?x?xf64>
  }
  func.return %r : tensor<?x?xf64>
}

// -----

func.func @two_ranks(%x: tensor<?x?xf64>, %v: tensor<?xf64>) -> tensor<?x?xf64> {
  // expected-error @+1 {{the tensors and buffers must all have one known rank}}
  %r = noma.tensor.fused ins(%x, %v : tensor<?x?xf64>, tensor<?xf64>) -> (tensor<?x?xf64>) {
  ^bb0(%a: tensor<?x?xf64>, %b: tensor<?xf64>):
    %c = noma.tensor.add %a, %b : (tensor<?x?xf64>, tensor<?xf64>) -> tensor<?x?xf64>
    noma.tensor.yield %c : tensor<?x?xf64>
  }
  func.return %r : tensor<?x?xf64>
}

// -----

func.func @wrong_results(%x: tensor<?x?xf64>) -> tensor<?x?xf64> {
  // expected-error @+1 {{yielded values must match the outputs}}
  %r = noma.tensor.fused ins(%x : tensor<?x?xf64>) -> (tensor<?x?xf64>) {
  ^bb0(%a: tensor<?x?xf64>):
    %c = noma.tensor.neg %a : tensor<?x?xf64> -> tensor<?x?xf64>
    %d = noma.tensor.abs %c : tensor<?x?xf64> -> tensor<?x?xf64>
    noma.tensor.yield %c, %d : tensor<?x?xf64>, tensor<?x?xf64>
  }
  func.return %r : tensor<?x?xf64>
}

// -----

func.func @not_isolated(%x: tensor<?x?xf64>) -> tensor<?x?xf64> {
  // expected-error @+1 {{Operation using value defined out of its IsolatedFromAbove parent}}
  %r = noma.tensor.fused ins(%x : tensor<?x?xf64>) -> (tensor<?x?xf64>) {
  ^bb0(%a: tensor<?x?xf64>):
    %c = noma.tensor.add %a, %x : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
    noma.tensor.yield %c : tensor<?x?xf64>
  }
  func.return %r : tensor<?x?xf64>
}

// CHECK: func.func @ok
