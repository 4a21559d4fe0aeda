# Trained by dpi 0.1.0 from 1328 captures against ndpi; support n = training flows matched
# dpi-train: source=trained:ndpi precision=1 tp=15 fp=0
Service: DHCP            udp port 67    n =   279 src = "  010600"
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: DHCP            udp port 68    n =    10 src = "02010600"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: DNP3            tcp port 20000 n =    27 src = "05            00"
# dpi-train: source=trained:ndpi precision=1 tp=12 fp=0
Service: DNP3            tcp port 20000 n =    28 dst = "0564"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: DNS             tcp port 53    n =     7 src = "        01200001000000000001"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: DNS             tcp port 53    n =     8 src = "            000100"
# dpi-train: source=trained:ndpi precision=1 tp=37 fp=0
Service: DNS             udp port 53    n =   116 src = "        0001000000000001"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: DNS             udp port 53    n =    31 src = "        00010000000000                              0000010001"
# dpi-train: source=trained:ndpi precision=1 tp=45 fp=0
Service: FTP_CONTROL     tcp port 21    n =    45 src = "5553455220"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: Jabber          tcp port 5223  n =     6 src = "2500451404"
# dpi-train: source=trained:ndpi precision=1 tp=25 fp=0
Service: Kerberos        tcp port 88    n =    25 src = "0000"
# dpi-train: source=trained:ndpi precision=1 tp=79 fp=0
Service: LLMNR           udp port 5355  n =    79 src = "    00000001000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: MySQL           tcp port 3306  n =    15 src = "  000001"
# dpi-train: source=trained:ndpi precision=1 tp=11 fp=0
Service: MySQL           tcp port 3306  n =    16 src = "    0001"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: NFS             udp port 20048 n =    40 src = "        0000000000000002000186"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: Nats            tcp port 6379  n =     8 src = "50494E470D0A"
# dpi-train: source=trained:ndpi precision=1 tp=49 fp=0
Service: NetBIOS         udp port 137   n =    49 src = "                00  00"
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: POP3            tcp port 110   n =    11 dst = "2B4F4B20504F50207365727665722072656164792048206D69"
# dpi-train: source=trained:ndpi precision=1 tp=3 fp=0
Service: PostgreSQL      tcp port 5432  n =    16 src = "000000"
# dpi-train: source=trained:ndpi precision=1 tp=2 fp=0
Service: QUIC            udp port 443   n =   122 src = "  FF0000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: SSH             tcp port 22    n =    66 src = "5353482D"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: Spotify         udp port 57621 n =    12 src = "53706F7455647030"
# dpi-train: source=trained:ndpi precision=1 tp=14 fp=0
Service: Teredo          udp port 3544  n =    14 src = "    0000"
