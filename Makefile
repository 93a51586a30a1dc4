# The two commands of the README, and a few conveniences.
.PHONY: demo test build bench clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

build:
	go build -o bin/ ./cmd/...

bench:
	scripts/bench.sh

clean:
	-scripts/clickhouse.sh stop
	rm -rf bin .local
