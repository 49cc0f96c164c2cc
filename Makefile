# panoptic_ros: the two commands a new user runs are `make demo` and `make test`.
# Each sets up a project-local venv first (idempotent: stamps skip work already done).
# With a sourced ROS 2 distribution (ROS_DISTRO set) the venv sees its Python packages and
# panoptic_msgs is built with colcon into ./install; otherwise ROS 2 Kilted wheels are used.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
MSG_SOURCES := $(wildcard panoptic_msgs/msg/*.msg) panoptic_msgs/CMakeLists.txt panoptic_msgs/package.xml

ifdef ROS_DISTRO
# the distribution's own interpreter, whose rclpy it ships
PYTHON ?= python3
VENV_FLAGS := --system-site-packages
REQUIREMENTS := requirements/python.txt
RUN := source install/setup.bash &&
else
# the ROS 2 Kilted wheels are built for CPython 3.11
PYTHON ?= python3.11
VENV_FLAGS :=
REQUIREMENTS := requirements/python.txt requirements/ros-kilted.txt
RUN :=
endif

.PHONY: setup test demo train bench clean
.DEFAULT_GOAL := test

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	touch $@

$(VENV)/.deps: $(VENV)/.created $(REQUIREMENTS)
	$(PY) -m pip install --quiet --disable-pip-version-check $(foreach r,$(REQUIREMENTS),-r $(r))
	touch $@

$(VENV)/.msgs: $(VENV)/.deps $(MSG_SOURCES) scripts/build_msgs.sh
ifdef ROS_DISTRO
	colcon --log-base build/colcon-log build --base-paths panoptic_msgs --build-base build/colcon --install-base install
else
	scripts/build_msgs.sh $(VENV)
endif
	touch $@

$(VENV)/.package: $(VENV)/.deps setup.py setup.cfg package.xml
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.msgs $(VENV)/.package

test: setup
	$(RUN) $(PY) -m pytest test

demo: setup
	$(RUN) $(PY) -m panoptic_ros.tools.demo

# The shipped model's recipe (models/README.md): stage 1 from ImageNet, stage 2 fine-tunes it at a
# lower learning rate; each stage resumes where a stopped run left it.
STAGE2 := init_from=runs/street_lite0/last.pt lr=0.0003 warmup_iterations=100 iterations=2000 \
	checkpoint_every=500 output_dir=runs/street_lite0_stage2
train: setup
	$(RUN) $(PY) -m panoptic_ros.train --config config/train_camvid.yaml --resume
	$(RUN) $(PY) -m panoptic_ros.train --config config/train_camvid.yaml $(STAGE2) --resume

bench: setup
	$(RUN) $(PY) -m panoptic_ros.tools.bench

clean:
	rm -rf $(VENV) build install log
