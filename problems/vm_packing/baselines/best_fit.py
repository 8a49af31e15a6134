"""Best fit (2-D): the machine with room that is left fullest after placing the VM, measured as
the sum of the CPU and memory shares left free (each over the machine's capacity); ties go to
the lowest index."""


def priority(vm, machines):
    cpu_left = (machines.cpu_free - vm.cpu) / machines.cpu_capacity
    mem_left = (machines.mem_free - vm.mem) / machines.mem_capacity
    return -(cpu_left + mem_left)
