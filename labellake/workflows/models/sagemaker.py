"""SageMaker requests of a model run on AWS: training and tuning jobs in the
scikit-learn container, the model, its endpoint configuration and endpoint.

The training code is sagemaker_train.py with the estimators module, shipped as the
run's source bundle (``sagemaker_submit_directory``), so the container trains and
serves exactly the pipelines a local run builds.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labellake.errors import LabellakeError
from labellake.workflows.models import estimators, sagemaker_train

# Registries of SageMaker's scikit-learn containers, by region (the SageMaker Python
# SDK's image URI configuration for the sklearn framework).
SKLEARN_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "ca-central-1": "341280168497",
    "sa-east-1": "737474898029",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "eu-central-1": "492215442770",
    "eu-north-1": "662702820516",
    "ap-south-1": "720646828776",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
}
SKLEARN_TAG = "1.2-1-cpu-py3"
ENTRY_POINT = "sagemaker_train.py"
OBJECTIVE = sagemaker_train.OBJECTIVE
TRAINING_INSTANCE = "ml.m5.large"
ENDPOINT_INSTANCE = "ml.m5.large"


def image_uri(region: str) -> str:
    account = SKLEARN_ACCOUNTS.get(region)
    if account is None:
        raise LabellakeError(
            f"aws_region '{region}': no SageMaker scikit-learn container known here "
            f"({', '.join(sorted(SKLEARN_ACCOUNTS))})"
        )
    return f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:{SKLEARN_TAG}"


def job_name(run_id: str, limit: int = 63) -> str:
    """A SageMaker name for the run within ``limit`` characters (tuning jobs take 32)."""
    if len(run_id) <= limit:
        return run_id
    digest = hashlib.sha1(run_id.encode()).hexdigest()[:8]
    return f"{run_id[: limit - 9].rstrip('-')}-{digest}"


def source_bundle() -> bytes:
    """The tar.gz the container runs: the entry script and the modules it imports."""
    from labellake import errors
    from labellake import workflows as workflows_package
    from labellake.workflows import models as models_package

    files = {
        ENTRY_POINT: Path(sagemaker_train.__file__),
        "labellake/__init__.py": None,
        "labellake/errors.py": Path(errors.__file__),
        "labellake/workflows/__init__.py": Path(str(workflows_package.__file__)),
        "labellake/workflows/models/__init__.py": Path(str(models_package.__file__)),
        "labellake/workflows/models/estimators.py": Path(estimators.__file__),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, path in files.items():
            data = path.read_bytes() if path else b'"""labellake, as shipped to SageMaker."""\n'
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _hyperparameters(values: dict[str, Any]) -> dict[str, str]:
    """SageMaker takes string hyperparameters; ours are JSON values."""
    return {name: json.dumps(value) for name, value in values.items()}


@dataclass(frozen=True)
class JobSetup:
    """Where a run's SageMaker jobs run and what they read and write."""

    image: str
    role_arn: str
    region: str
    data_uri: str  # the folder holding train.csv
    output_uri: str  # where the model artifacts go
    source_uri: str  # the source bundle


def static_hyperparameters(run: dict[str, Any], setup: JobSetup) -> dict[str, Any]:
    return {
        "sagemaker_program": ENTRY_POINT,
        "sagemaker_submit_directory": setup.source_uri,
        "sagemaker_region": setup.region,
        "model_name": run["model_name"],
        "target": run["target"],
        "numeric": run["numeric"],
        "categorical": run["categorical"],
        "seed": run.get("seed", 0),
    }


def training_definition(setup: JobSetup) -> dict[str, Any]:
    """What a training job and a tuning job's training jobs share."""
    return {
        "AlgorithmSpecification": {
            "TrainingImage": setup.image,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": OBJECTIVE, "Regex": f"{OBJECTIVE}=([0-9.eE+-]+)"}],
        },
        "RoleArn": setup.role_arn,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": setup.data_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": setup.output_uri},
        "ResourceConfig": {
            "InstanceType": TRAINING_INSTANCE,
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def training_job(
    name: str, run: dict[str, Any], params: dict[str, Any], setup: JobSetup
) -> dict[str, Any]:
    """CreateTrainingJob for a TRAIN run."""
    return {
        "TrainingJobName": name,
        "HyperParameters": _hyperparameters(
            {
                **static_hyperparameters(run, setup),
                "estimator": run["estimator"],
                "params": params,
            }
        ),
        **training_definition(setup),
        "Tags": [{"Key": "labellake:run", "Value": run["run_id"]}],
    }


def parameter_ranges(estimator: str, brief: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The estimator's search space (estimators.SPACE) as tuning-job parameter ranges."""
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for name, (kind, *bounds) in estimators.SPACE[estimator].items():
        if kind == "categorical":
            ranges["CategoricalParameterRanges"].append(
                {"Name": name, "Values": [json.dumps(v) for v in bounds[0]]}
            )
            continue
        low, high, log = bounds
        if brief:
            high = min(high, estimators.BRIEF[estimator].get(name, high))
        entry = {
            "Name": name,
            "MinValue": str(low),
            "MaxValue": str(high),
            "ScalingType": "Logarithmic" if log else "Linear",
        }
        key = "ContinuousParameterRanges" if kind == "float" else "IntegerParameterRanges"
        ranges[key].append(entry)
    return {key: value for key, value in ranges.items() if value}


def tuning_job(name: str, run: dict[str, Any], trials: int, setup: JobSetup) -> dict[str, Any]:
    """CreateHyperParameterTuningJob for an HPO run: Bayesian, the p95 error minimised."""
    estimator = run["estimator"]
    static = {**static_hyperparameters(run, setup), "estimator": estimator}
    if "max_iter" not in estimators.SPACE[estimator]:
        static["max_iter"] = estimators.BRIEF[estimator]["max_iter"]
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": OBJECTIVE},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": trials,
                "MaxParallelTrainingJobs": min(2, trials),
            },
            "ParameterRanges": parameter_ranges(estimator),
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": _hyperparameters(static),
            **training_definition(setup),
        },
        "Tags": [{"Key": "labellake:run", "Value": run["run_id"]}],
    }


def model(
    name: str, image: str, model_data: str, source_uri: str, role_arn: str, region: str
) -> dict[str, Any]:
    """CreateModel: the trained artifact in the same container, serving through the
    entry script's model_fn / input_fn / predict_fn."""
    return {
        "ModelName": name,
        "PrimaryContainer": {
            "Image": image,
            "ModelDataUrl": model_data,
            "Environment": {
                "SAGEMAKER_PROGRAM": ENTRY_POINT,
                "SAGEMAKER_SUBMIT_DIRECTORY": source_uri,
                "SAGEMAKER_REGION": region,
            },
        },
        "ExecutionRoleArn": role_arn,
    }


def endpoint_config(name: str, model_name: str) -> dict[str, Any]:
    return {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InstanceType": ENDPOINT_INSTANCE,
                "InitialInstanceCount": 1,
            }
        ],
    }
