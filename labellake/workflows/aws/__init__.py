"""The aws profile: the state table, the CloudFormation template, bootstrap and deploy, and
the Step Functions worker loop the batch and model state machines share."""
