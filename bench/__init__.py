"""Benchmarks: each module measures one thing, prints it, and records it in bench/results/NAME.json;
`python -m bench` runs them and rewrites docs/benchmarks.md from every recorded result."""
