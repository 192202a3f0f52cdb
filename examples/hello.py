# Run with: npx coderouter run examples/hello.py --inputs '{"name": "Ada"}'
# `name` arrives as a global (and in `inputs`); the last expression is the output.
import platform

print(f"hello {name} from Python {platform.python_version()}")
{"greeting": f"hi {name}", "letters": sorted(set(name.lower()))}
