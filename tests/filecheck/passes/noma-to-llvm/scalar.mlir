// RUN: nomac %s -p noma-to-llvm | filecheck %s

// Element-wise ops on f64 scalars are inline LLVM (no runtime calls);
// numpy's NaN rules for min/max/relu, 0.0/1.0 results for comparisons;
// `pow` takes numpy's fast paths (exponent 0, 1, -1, 0.5, 2) by selects.
// Constants are created once at the top of the function; + - * of two
// constants are folded.

builtin.module attributes {noma.entry = "main"} {
  func.func @f(%a: f64, %b: f64) -> f64 {
    %s = noma.tensor.add %a, %b : (f64, f64) -> f64
    %p = noma.tensor.pow %s, %b : (f64, f64) -> f64
    %r = noma.tensor.rem %p, %a : (f64, f64) -> f64
    %g = noma.tensor.sigmoid %r : f64 -> f64
    %m = noma.tensor.max %g, %a : (f64, f64) -> f64
    %u = noma.tensor.relu %m : f64 -> f64
    %c = noma.tensor.cmp "le", %u, %b : (f64, f64) -> f64
    %t = noma.tensor.tanh %c : f64 -> f64
    %q = noma.tensor.trunc %t : f64 -> f64
    func.return %q : f64
  }
  func.func @main() -> f64 {
    %a = arith.constant 1.5 : f64
    %b = arith.constant -2.0 : f64
    %ab = noma.tensor.mul %a, %b : (f64, f64) -> f64
    %x = func.call @f(%a, %ab) : (f64, f64) -> f64
    func.return %x : f64
  }
}

// CHECK:      llvm.func @tanh(f64) -> f64
// CHECK:      llvm.func @trunc(f64) -> f64
// CHECK:      llvm.func internal @noma.fn.f(%a: f64, %b: f64) -> f64 {
// CHECK-DAG:    %[[ONE:.*]] = llvm.mlir.constant(1.000000e+00 : f64) : f64
// CHECK-DAG:    %[[ZERO:.*]] = llvm.mlir.constant(0.000000e+00 : f64) : f64
// CHECK-DAG:    %[[MONE:.*]] = llvm.mlir.constant(-1.000000e+00 : f64) : f64
// CHECK-DAG:    %[[HALF:.*]] = llvm.mlir.constant(5.000000e-01 : f64) : f64
// CHECK-DAG:    %[[TWO:.*]] = llvm.mlir.constant(2.000000e+00 : f64) : f64
// CHECK:        %s = llvm.fadd %a, %b : f64
// CHECK-NEXT:   %[[POW:.*]] = llvm.intr.pow(%s, %b) : (f64, f64) -> f64
// CHECK-NEXT:   %[[IS0:.*]] = llvm.fcmp "oeq" %b, %[[ZERO]] : f64
// CHECK-NEXT:   %[[P0:.*]] = llvm.select %[[IS0]], %[[ONE]], %[[POW]] : i1, f64
// CHECK-NEXT:   %[[IS1:.*]] = llvm.fcmp "oeq" %b, %[[ONE]] : f64
// CHECK-NEXT:   %[[P1:.*]] = llvm.select %[[IS1]], %s, %[[P0]] : i1, f64
// CHECK-NEXT:   %[[ISM1:.*]] = llvm.fcmp "oeq" %b, %[[MONE]] : f64
// CHECK-NEXT:   %[[INV:.*]] = llvm.fdiv %[[ONE]], %s : f64
// CHECK-NEXT:   %[[P2:.*]] = llvm.select %[[ISM1]], %[[INV]], %[[P1]] : i1, f64
// CHECK-NEXT:   %[[ISH:.*]] = llvm.fcmp "oeq" %b, %[[HALF]] : f64
// CHECK-NEXT:   %[[ROOT:.*]] = llvm.intr.sqrt(%s) : (f64) -> f64
// CHECK-NEXT:   %[[P3:.*]] = llvm.select %[[ISH]], %[[ROOT]], %[[P2]] : i1, f64
// CHECK-NEXT:   %[[IS2:.*]] = llvm.fcmp "oeq" %b, %[[TWO]] : f64
// CHECK-NEXT:   %[[SQ:.*]] = llvm.fmul %s, %s : f64
// CHECK-NEXT:   %p = llvm.select %[[IS2]], %[[SQ]], %[[P3]] : i1, f64
// CHECK-NEXT:   %r = llvm.frem %p, %a : f64
// CHECK-NEXT:   %[[NEG:.*]] = llvm.fneg %r : f64
// CHECK-NEXT:   %[[EXP:.*]] = llvm.intr.exp(%[[NEG]]) : (f64) -> f64
// CHECK-NEXT:   %[[DEN:.*]] = llvm.fadd %[[ONE]], %[[EXP]] : f64
// CHECK-NEXT:   %g = llvm.fdiv %[[ONE]], %[[DEN]] : f64
// CHECK-NEXT:   %[[GT:.*]] = llvm.fcmp "ogt" %g, %a : f64
// CHECK-NEXT:   %[[PICK:.*]] = llvm.select %[[GT]], %g, %a : i1, f64
// CHECK-NEXT:   %[[NAN:.*]] = llvm.fcmp "uno" %g, %g : f64
// CHECK-NEXT:   %m = llvm.select %[[NAN]], %g, %[[PICK]] : i1, f64
// CHECK-NEXT:   %[[NEG:.*]] = llvm.fcmp "ole" %m, %[[ZERO]] : f64
// CHECK-NEXT:   %u = llvm.select %[[NEG]], %[[ZERO]], %m : i1, f64
// CHECK-NEXT:   %[[LE:.*]] = llvm.fcmp "ole" %u, %b : f64
// CHECK-NEXT:   %c = llvm.select %[[LE]], %[[ONE]], %[[ZERO]] : i1, f64
// CHECK-NEXT:   %t = llvm.call @tanh(%c) : (f64) -> f64
// CHECK-NEXT:   %q = llvm.call @trunc(%t) : (f64) -> f64
// CHECK-NEXT:   llvm.return %q : f64
// CHECK:      llvm.func @noma_entry() {
// CHECK-DAG:    %[[A:.*]] = llvm.mlir.constant(1.500000e+00 : f64) : f64
// CHECK-DAG:    %ab = llvm.mlir.constant(-3.000000e+00 : f64) : f64
// CHECK:        %x = llvm.call @noma.fn.f(%[[A]], %ab) : (f64, f64) -> f64
// CHECK-NEXT:   llvm.call @noma_rt_print_scalar(%x) : (f64) -> ()
// CHECK-NEXT:   llvm.return
// CHECK-NOT:  noma.tensor
