// A WASI command: built for wasm32-wasip2, or for wasm32-wasip1 and adapted into a component.
fn main() {
    println!("Hello from Rust, built by wasm-signer!");
}
