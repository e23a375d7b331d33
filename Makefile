# Front end for the verbs people reach for. The binary ends up at build/drone.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup configure build test unit integration demo bench format tidy asan clean

setup:
	scripts/setup.sh

configure:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Unit tests (ctest) and the integration tests that drive build/drone.
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	cd $(BUILD) && ctest --output-on-failure -j 2 -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

# The main job: a 3-broker embedded Kafka cluster through a broker outage (builds only the binary).
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target drone
	$(BUILD)/drone run flows/quickstart.yaml --json $(BUILD)/quickstart.json

bench: build
	bench/run_all.sh $(BUILD)

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

tidy: configure
	find src -name '*.cc' ! -name '*_test.cc' | xargs clang-tidy -p $(BUILD) --quiet

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DDRONE_SANITIZE=address -DDRONE_BUILD_BENCHMARKS=OFF"

clean:
	rm -rf build build-asan
