// RUN: not nomac %s -p bogus 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not nomac %s -p csee 2>&1 | filecheck %s --check-prefix=CLOSE
// RUN: not nomac %s -p 'cse{bogus=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not nomac %s -p 'cse,,dce' 2>&1 | filecheck %s --check-prefix=SYNTAX
// RUN: not nomac %s -p cse --pass-pipeline='builtin.module(cse)' 2>&1 | filecheck %s --check-prefix=BOTH
// RUN: not nomac %s --emit bogus 2>&1 | filecheck %s --check-prefix=EMIT

func.func @f() {
  func.return
}

// UNKNOWN: error: unknown pass 'bogus' (`nomac --list-passes` lists them)
// CLOSE:   error: unknown pass 'csee'; did you mean 'cse'?
// OPTION:  error: bad options for pass 'cse': Provided arguments ["bogus"] not found
// SYNTAX:  error: bad pass pipeline 'cse,,dce': Expected pass name here (column 5)
// BOTH:    error: give -p/--passes or --pass-pipeline, not both
// EMIT:    error: unknown --emit 'bogus' (choose from noma, llvm-dialect, llvm, asm, obj)
