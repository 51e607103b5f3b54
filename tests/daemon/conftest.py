from tests.fakes.kubernetes import kube_client, kube_fake, kube_fake_other

__all__ = ["kube_client", "kube_fake", "kube_fake_other"]
