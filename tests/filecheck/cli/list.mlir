// RUN: nomac --list-passes | filecheck %s
// RUN: nomac --list-dialects | filecheck %s --check-prefix=DIALECTS

// CHECK:      NOMA passes:
// CHECK-NEXT:   noma-inline {{ +}}Inline
// CHECK:        noma-autodiff
// CHECK:      Upstream xDSL passes:
// CHECK:        arith-add-fastmath {{ +}}Module pass that adds fastmath flags

// DIALECTS:      Loaded dialects:
// DIALECTS:        noma.tensor {{ +}}{{[0-9]+}} ops
// DIALECTS:        noma.mem
// DIALECTS:        noma.train
// DIALECTS:        noma.io
// DIALECTS:      Other xDSL dialects (loaded on use):
// DIALECTS:        memref
