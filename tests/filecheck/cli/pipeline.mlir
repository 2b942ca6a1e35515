// RUN: nomac %s -p 'arith-add-fastmath{flags=fast},cse' | filecheck %s
// RUN: nomac %s --passes 'arith-add-fastmath{flags=fast},cse' | filecheck %s
// RUN: nomac %s --pass-pipeline='builtin.module(arith-add-fastmath{flags=fast},cse)' | filecheck %s
// RUN: nomac %s -p 'builtin.module(arith-add-fastmath{flags=fast}, cse)' | filecheck %s
// RUN: nomac %s | filecheck %s --check-prefix=NOPASS

// Both pipeline spellings, with a pass option.

func.func @f(%a: f64, %b: f64) -> f64 {
  %0 = arith.addf %a, %b : f64
  %1 = arith.addf %a, %b : f64
  %2 = arith.mulf %0, %1 : f64
  func.return %2 : f64
}

// CHECK:      %0 = arith.addf %a, %b fastmath<fast> : f64
// CHECK-NEXT: %1 = arith.mulf %0, %0 fastmath<fast> : f64
// CHECK-NEXT: func.return %1 : f64

// NOPASS:      %0 = arith.addf %a, %b : f64
// NOPASS-NEXT: %1 = arith.addf %a, %b : f64
