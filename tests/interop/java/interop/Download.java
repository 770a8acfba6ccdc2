package interop;

import javax.xml.bind.annotation.XmlAccessType;
import javax.xml.bind.annotation.XmlAccessorType;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.bind.annotation.XmlRootElement;
import javax.xml.bind.annotation.XmlType;

@XmlRootElement(name = "download", namespace = Interop.NS)
@XmlAccessorType(XmlAccessType.FIELD)
@XmlType(name = "download", namespace = Interop.NS)
public class Download {
    @XmlElement(name = "size", namespace = "")
    public long size;
}
