// A component written in JavaScript: `greet` is exported through the WIT world in wit/hello.wit.
export function greet(name) {
  return `Hello, ${name}! (built by wasm-signer from JavaScript)`;
}
