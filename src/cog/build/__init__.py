"""build component of pycog: cog.yaml → Dockerfile → image, and running images.

Modules, one concept each:

    compatibility   CUDA / cuDNN / torch / Python table and what a config resolves to
    base_image      which image the Dockerfile starts FROM
    requirements    the requirements file installed into the image (torch index rewrite)
    dockerfile      the Dockerfile generator
    ignore          .dockerignore rules and what never enters a context
    context         the tar build context streamed to the engine
    weights         --separate-weights: weight files and their manifest
    labels          image labels (run.cog.*, OCI)
    sdk_wheel       the pycog wheel installed into images
    pip_host        host pip settings that carry into a build (indexes, CA bundle)
    engine          the Docker CLI seam (`Docker`)
    builder         the pipeline: plan_build / build_image
    docker_runtime  running images for the CLI
    errors          BuildError and its subclasses

Functions the CLI calls for `--runtime docker` (`cog.build.docker_runtime`):

    engine_available(docker: Docker | None = None) -> bool
    build_dev_image(config: Config, *, base: BaseImageChoice | None = None,
                    progress: str = "auto", secrets: tuple[str, ...] = (),
                    docker: Docker | None = None) -> str          # image name
    ContainerSpec(image, command=None, env={}, gpus=None, project_dir=None, publish=[],
                  host="127.0.0.1", host_port=None, extra_hosts=[])
    with ModelContainer(spec) as container:                       # started, --rm
        container.wait_ready(timeout=300.0)                       # READY or ContainerSetupFailed
        container.url                                             # http://127.0.0.1:PORT
        container.logs() -> str
    run_in_container(spec, argv, *, interactive=False) -> int     # `cog exec`

And for `cog build`/`push`/`debug` (`cog.build.builder`):

    BuildOptions(tag, base=BaseImageChoice(base_image, use_cog_base_image,
                 use_cuda_base_image), separate_weights, secrets, no_cache, progress,
                 labels=True, openapi_schema=None)
    plan_build(config, options, docker | None) -> BuildPlan       # Dockerfile etc.
    build_image(config, options, docker) -> BuiltImage(name, id, plan)

Shared click flags for commands that build: `cog.cli.build.build_flags` (decorator) and
`cog.cli.build.build_options_from(kwargs) -> BuildOptions`.
"""
