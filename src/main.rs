fn main() {
    println!("ai4k8s: under construction");
}
