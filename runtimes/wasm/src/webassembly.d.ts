// TypeScript declares WebAssembly in lib.dom only, which this Node package does not load: the one
// class it names (a compiled module, handed between worker threads) is declared here.
declare namespace WebAssembly {
  class Module {
    private readonly compiledModule: never;
  }
}
