# alif-spice in a container; the install steps are those of the Makefile ('system', 'install').
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ngspice libngspice0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/alif-spice
COPY pyproject.toml README.md ./
COPY alif_spice ./alif_spice
COPY netlists ./netlists
COPY spice_models ./spice_models
COPY compare ./compare
RUN python -m pip install --no-cache-dir . \
 && python -c "import alif_spice; alif_spice.solve_ode(alif_spice.load_params(values={'simulation.t_stop': 1e-3}))"
WORKDIR /work
ENTRYPOINT ["alif-spice"]
CMD ["--help"]
