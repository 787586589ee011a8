"""The Block Storage API's services: volumes, types, QoS, encryption, quotas, jobs."""
