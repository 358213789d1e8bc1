"""CoopFlow's training schedule (CoopFlow paper A.2): the phases of CoopFlow(Pre) (flow MLE
first, then the EBM alone, then Algorithm 1), their learning rates and Adam restarts, and the
Langevin noise decay of Eq. (10). A function of the epoch alone, so a resumed run gets what an
uninterrupted one would.

    >>> [round(noise_decay(e, 4), 4) for e in range(5)]
    [1.0, 0.0032, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from ..interface import Schedule

__all__ = ["PhasedSchedule", "noise_decay"]


def noise_decay(epoch: int, k: int) -> float:
    """Eq. (10): max((1 - epoch / K)^20, 0); the Langevin noise multiplier in training."""
    return max((1.0 - epoch / k) ** 20, 0.0) if epoch < k else 0.0


class PhasedSchedule:
    """Mixin of :class:`~genflows.coopflow.CoopFlow`: reads its ``mode``, ``pretrain_epochs``,
    ``warmup_epochs``, ``optim`` (base lr and betas per group) and ``joint_flow_lr`` /
    ``joint_ebm_lr``, and keeps the current ``epoch``."""

    epoch = 0

    def schedule(self, epoch: int) -> Schedule:
        """Called by the trainer at the start of each (0-based) epoch: sets the phase and the
        noise decay, and returns the phase's learning rates and restarted Adam states."""
        self.epoch = epoch
        return Schedule(self.phase_lrs(), self.restarted_groups())

    @property
    def phase(self) -> str:
        """'flow' (CoopFlow(Pre) flow pretraining), 'warmup' (EBM alone) or 'joint'."""
        if self.mode != "coopflow":
            return self.mode
        if self.epoch < self.pretrain_epochs:
            return "flow"
        if self.epoch < self.pretrain_epochs + self.warmup_epochs:
            return "warmup"
        return "joint"

    def phase_lrs(self) -> dict[str, float]:
        """Base learning rate of each parameter group in the current phase; the trainer applies it
        at the start of every epoch.

        ``joint_flow_lr`` exists because a flow pretrained by MLE meets Langevin-revised samples
        far from the data in the joint phase; at the pretraining lr (1e-4) our small MNIST flow
        lost its pretraining within one joint epoch (docs/log.md, CoopFlow at CPU scale).
        ``joint_ebm_lr`` slows the EBM once the flow follows it: with the flow frozen the contrast
        f(x) - f(x_tilde) stays bounded, in the joint phase it ran away."""
        lrs = {name: lr for name, (lr, _) in self.optim.items()}
        if self.phase == "joint":
            lrs["flow"] = self.joint_flow_lr
            if "ebm" in lrs:
                lrs["ebm"] = self.joint_ebm_lr
        return lrs

    def restarted_groups(self) -> tuple[str, ...]:
        """Parameter groups whose optimiser state starts afresh at this epoch: the flow's, when
        CoopFlow(Pre) turns from MLE pretraining to Algorithm 1. The paper pretrains its flow as a
        separate run; Adam moments carried over from the MLE gradients would scale the first
        cooperative updates by the ratio of the new gradients to the old ones."""
        if self.mode == "coopflow" and self.pretrain_epochs > 0 and self.epoch == self.pretrain_epochs + self.warmup_epochs:
            return ("flow",)
        return ()
