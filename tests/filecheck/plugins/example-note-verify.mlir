// RUN: nomac %s --load-plugin %S/../../plugins/noma_example_plugin.py --split-input-file --verify-diagnostics | filecheck %s
// RUN: not nomac %s --load-plugin %S/../../plugins/noma_example_plugin.py --split-input-file 2>&1 | filecheck %s --check-prefix=ERR

// A plugin dialect's verifier reports like NOMA's own: each chunk below is
// its own module (--split-input-file), and --verify-diagnostics checks that
// the errors are exactly the `expected-error` comments.

func.func @fine() {
  example.note "a note"
  func.return
}

// -----

func.func @empty() {
  // expected-error @+1 {{a note must not be empty}}
  example.note ""
  func.return
}

// CHECK:      func.func @fine() {
// CHECK-NEXT:   example.note "a note"
// CHECK-NOT:  func.func @empty

// ERR: error: example.note: a note must not be empty at {{.*}}example-note-verify.mlir:17:3
// ERR-NEXT: {{^}}    example.note ""
// ERR-NEXT: {{^}}    ^
