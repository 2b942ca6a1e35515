// RUN: nomac %s -p 'arith-add-fastmath{flags=fast},cse' --print-ir-after-all -o %t 2>&1 | filecheck %s
// RUN: filecheck %s --input-file=%t --check-prefix=OUT
// RUN: nomac %s -p cse --time-passes 2>&1 >/dev/null | filecheck %s --check-prefix=TIME

func.func @f(%a: f64) -> f64 {
  %0 = arith.addf %a, %a : f64
  %1 = arith.addf %a, %a : f64
  %2 = arith.mulf %0, %1 : f64
  func.return %2 : f64
}

// The IR after each pass goes to stderr, the result to -o.
// CHECK:      // -----// IR Dump After arith-add-fastmath //----- //
// CHECK-NEXT: builtin.module {
// CHECK:        %0 = arith.addf %a, %a fastmath<fast> : f64
// CHECK-NEXT:   %1 = arith.addf %a, %a fastmath<fast> : f64
// CHECK:      // -----// IR Dump After cse //----- //
// CHECK-NEXT: builtin.module {
// CHECK:        %0 = arith.addf %a, %a fastmath<fast> : f64
// CHECK-NEXT:   %1 = arith.mulf %0, %0 fastmath<fast> : f64

// OUT:      builtin.module {
// OUT:        %1 = arith.mulf %0, %0 fastmath<fast> : f64
// OUT-NEXT:   func.return %1 : f64
// OUT-NOT:  IR Dump

// TIME:      Pass execution timing report
// TIME:      ----Wall Time----  ----Name----
// TIME-NEXT: {{ +[0-9.]+ +\( *[0-9.]+%\)}}  cse
// TIME:      {{ +[0-9.]+ +\(100.0%\)}}  Total
