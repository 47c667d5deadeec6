"""Local autoscaling: a serving variant's instance count follows target tracking, as on SageMaker."""
